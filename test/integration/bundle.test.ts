/**
 * The deployable bundle (dev/bundle.ts) proven to work, not just to build: built into a temporary folder laid
 * out as azd deploys it (host.json, package.json whose `main` is the bundle, the bundle files, no
 * node_modules), served by the local host in its own process against the local Web PubSub emulator, and
 * answering health, a bearer negotiate (jose's chunk), a push that reaches a connected client (the chunks of
 * @azure/web-pubsub and its HTTP pipeline) and a signed webhook connect. Keyless mode, the default deployment,
 * run the same way: managed identity from the platform's identity endpoint, negotiate and push with its token,
 * the webhook on the function key. And key-mode negotiate proven not to
 * need @azure/identity, jose or @azure/web-pubsub at all: with the chunks that hold them deleted, a cold start
 * still answers its first negotiate.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { jwtVerify, SignJWT } from 'jose';
import WebSocket from 'ws';
import { buildBundle, deployPackageJson, type BundleResult } from '../../dev/bundle';
import { createEmulator, type Emulator } from '../../emulator';
import { ACCESS_KEY, connectBody, eventHeaders } from '../support/cloud-events';

const ROOT = join(__dirname, '..', '..');
const HOST_SERVER = join(ROOT, 'dist', 'dev', 'host', 'server.js');
const HARNESS = join(ROOT, 'dist', 'bench', 'cold-start', 'first-request.js');
const AUDIENCE = 'api://bundle-test';
const FUNCTION_KEY = 'bundle-test-function-key';
// Packages only keyless mode, bearer identity or the push API need.
const LAZY_PACKAGES = ['@azure/identity', 'jose', '@azure/web-pubsub', '@azure/core-rest-pipeline'];

let workDir: string | undefined;
let deployDir: string;
let emulator: Emulator | undefined;
let bundle: BundleResult;
let host: BundleHost | undefined;
let baseUrl: string;

/** Only our settings: nothing from the developer's shell may change what the bundle does. */
function appEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, ...settings };
}

interface BundleHost {
  baseUrl: string;
  /** Everything the host process has written to stderr so far (its request and app log). */
  output(): string;
  stop(): Promise<void>;
}

/** The deployed folder served by the local host in its own process, with exactly these app settings. */
async function startBundleHost(settings: Record<string, string>): Promise<BundleHost> {
  const script = `require(${JSON.stringify(HOST_SERVER)}).startLocalHost({ rootDir: ${JSON.stringify(deployDir)},
    port: 0, applySettings: false, devIssuer: true, functionKey: ${JSON.stringify(FUNCTION_KEY)},
    log: (line) => process.stderr.write(line + '\\n') })
    .then((host) => process.stdout.write(JSON.stringify({ url: host.url, port: host.port }) + '\\n'),
          (error) => { console.error(error); process.exit(1); });`;
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, ['-e', script], {
    cwd: deployDir,
    env: appEnv(settings),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [line] = (await Promise.race([
    once(child.stdout, 'data'),
    once(child, 'exit').then(() => {
      throw new Error(`the local host exited: ${output}`);
    }),
  ])) as [Buffer];
  const { port } = JSON.parse(line.toString()) as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

beforeAll(async () => {
  // The local host and the cold-start harness run compiled, as `npm start` and `npm run bench` run them.
  await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT }).catch(
    (error: unknown) => {
      // Someone else's type error elsewhere still emits; only missing files are fatal here.
      if (!existsSync(HOST_SERVER) || !existsSync(HARNESS)) throw error;
    },
  );
  // The service the bundle talks to, signing webhook events with the same key as the test's vectors.
  emulator = await createEmulator({ port: 0, accessKey: ACCESS_KEY });
  workDir = mkdtempSync(join(tmpdir(), 'wps-bundle-'));
  deployDir = join(workDir, 'deploy');
  bundle = await buildBundle({ outDir: deployDir });
  writeFileSync(join(deployDir, 'package.json'), deployPackageJson());
  copyFileSync(join(ROOT, 'host.json'), join(deployDir, 'host.json'));
  host = await startBundleHost({
    WebPubSubConnectionString: emulator.connectionString,
    WebPubSubHub: 'chat',
    NegotiateIdentity: 'bearer',
    NegotiateAudience: AUDIENCE,
  });
  baseUrl = host.baseUrl;
}, 180_000);

afterAll(async () => {
  await host?.stop();
  await emulator?.close();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

function emulatorEndpoint(): string {
  return new URL(/Endpoint=([^;]+)/.exec(emulator?.connectionString ?? '')?.[1] ?? '').origin;
}

/** A client access URL from the bundle's bearer negotiate, for a user the dev issuer vouches for. */
async function negotiateUrl(userId: string): Promise<URL> {
  const issued = await fetch(`${baseUrl}/.dev-issuer/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: userId, aud: AUDIENCE }),
  });
  expect(issued.status).toBe(200);
  const { access_token: callerToken } = (await issued.json()) as { access_token: string };
  const response = await fetch(`${baseUrl}/api/negotiate`, {
    headers: { authorization: `Bearer ${callerToken}` },
  });
  expect(response.status).toBe(200);
  return new URL(((await response.json()) as { url: string }).url);
}

describe('the bundle', () => {
  it('imports nothing at run time but Node built-ins and the worker-supplied @azure/functions-core', () => {
    const builtins = new Set(builtinModules);
    const foreign = bundle.externalImports.filter(
      (path) => path !== '@azure/functions-core' && !path.startsWith('node:') && !builtins.has(path),
    );
    expect(foreign).toEqual([]);
    expect(bundle.externalImports).toContain('@azure/functions-core');
    // The entry holds the registrations and @azure/functions only; each lazy package sits in a chunk.
    expect(bundle.packagesByFile['main.js']).toEqual([
      '@azure/functions',
      '@azure/functions-extensions-base',
    ]);
  });

  it('answers health through the local host, as the deployed package', async () => {
    const response = await fetch(`${baseUrl}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', serviceMode: 'key', hubs: ['chat'] });
  });

  it('answers a bearer negotiate with a client token the access key verifies', async () => {
    const clientUrl = await negotiateUrl('alice');
    const endpoint = emulatorEndpoint();
    expect(`${clientUrl.origin}${clientUrl.pathname}`).toBe(
      `${endpoint.replace(/^http/, 'ws')}/client/hubs/chat`,
    );
    // Verified with jose and the access key, not with our code: the service would accept it.
    const { payload } = await jwtVerify(
      clientUrl.searchParams.get('access_token') ?? '',
      Buffer.from(ACCESS_KEY),
      { audience: `${endpoint}/client/hubs/chat` },
    );
    expect(payload.sub).toBe('alice');
  });

  it('pushes through @azure/web-pubsub to a client connected to the service', async () => {
    const socket = new WebSocket(await negotiateUrl('bob'));
    try {
      await once(socket, 'open');
      const received = once(socket, 'message');
      const response = await fetch(`${baseUrl}/api/hubs/chat/users/bob/messages`, {
        method: 'POST',
        headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'text/plain' },
        body: 'pushed through the bundle',
      });
      expect(response.status).toBe(202);
      const [data] = (await received) as [Buffer];
      expect(data.toString()).toBe('pushed through the bundle');
    } finally {
      socket.close();
    }
  });

  it('admits a signed webhook connect', async () => {
    const response = await fetch(`${baseUrl}/api/webpubsub/events`, {
      method: 'POST',
      // The service names itself by its host; the webhook only answers its own resource's events.
      headers: {
        ...eventHeaders('connect', { 'webhook-request-origin': new URL(emulatorEndpoint()).host }),
        'x-functions-key': FUNCTION_KEY,
      },
      body: JSON.stringify(connectBody()),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ subprotocol: 'json.webpubsub.azure.v1' });
  });

  it('refuses a webhook connect with a wrong signature', async () => {
    const response = await fetch(`${baseUrl}/api/webpubsub/events`, {
      method: 'POST',
      headers: {
        ...eventHeaders('connect', {
          'webhook-request-origin': new URL(emulatorEndpoint()).host,
          'ce-signature': `sha256=${'0'.repeat(64)}`,
        }),
        'x-functions-key': FUNCTION_KEY,
      },
      body: JSON.stringify(connectBody()),
    });
    // Refused by the webhook's signature check, not by the host's function key.
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

/**
 * Keyless mode, the default deployment (infra/: a user-assigned identity, AZURE_CLIENT_ID, no access key), run
 * from the bundle with nothing faked inside the process: @azure/identity's ManagedIdentityCredential, from its
 * chunk, asks the identity endpoint that App Service and Azure Functions give every app (IDENTITY_ENDPOINT,
 * with the secret IDENTITY_HEADER sent back as X-IDENTITY-HEADER), and the SDK calls the service with that
 * token. Stand-ins here: that endpoint (plain http on loopback, as the platform's is), and the service on
 * HTTPS with the test certificate, trusted through NODE_EXTRA_CA_CERTS (the SDK sends bearer tokens over
 * TLS only).
 */
describe('keyless mode, as azd deploys it', () => {
  const TLS = join(ROOT, 'test', 'fixtures', 'tls');
  const CLIENT_ID = '11111111-2222-3333-4444-555555555555';
  const IDENTITY_HEADER = 'identity-header-secret-of-the-platform';
  const ENTRA_TOKEN = 'entra-access-token-for-web-pubsub';
  // The service's own token signing; the app never sees this key.
  const SERVICE_SECRET = new TextEncoder().encode('the-service-own-secret-0123456789abcdef');

  interface Call {
    method: string;
    url: URL;
    headers: IncomingMessage['headers'];
    body: string;
  }
  const identityCalls: Call[] = [];
  const serviceCalls: Call[] = [];
  const issuedTokens: string[] = [];
  let identityEndpoint: Server;
  let service: Server;
  let serviceOrigin: string;
  let keyless: BundleHost | undefined;

  function record(calls: Call[], req: IncomingMessage, then: (call: Call) => void): void {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const call = {
        method: req.method ?? '',
        url: new URL(req.url ?? '/', 'http://x'),
        headers: req.headers,
        body,
      };
      calls.push(call);
      then(call);
    });
  }

  function listen(server: Server): Promise<number> {
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  }

  beforeAll(async () => {
    identityEndpoint = createHttpServer((req, res) =>
      record(identityCalls, req, () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            access_token: ENTRA_TOKEN,
            expires_on: String(Math.floor(Date.now() / 1000) + 3600),
            resource: 'https://webpubsub.azure.com',
            token_type: 'Bearer',
          }),
        );
      }),
    );
    service = createHttpsServer(
      {
        cert: readFileSync(join(TLS, 'localhost.cert.pem')),
        key: readFileSync(join(TLS, 'localhost.key.pem')),
      },
      (req, res) =>
        record(serviceCalls, req, (call) => {
          if (!call.url.pathname.endsWith(':generateToken')) {
            res.writeHead(202).end();
            return;
          }
          const now = Math.floor(Date.now() / 1000);
          void new SignJWT({ role: call.url.searchParams.getAll('role') })
            .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
            .setSubject(call.url.searchParams.get('userId') ?? '')
            .setIssuedAt(now)
            .setExpirationTime(now + 3600)
            .sign(SERVICE_SECRET)
            .then((token) => {
              issuedTokens.push(token);
              res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
            });
        }),
    );
    const identityPort = await listen(identityEndpoint);
    serviceOrigin = `https://127.0.0.1:${await listen(service)}`;
    keyless = await startBundleHost({
      WebPubSubEndpoint: serviceOrigin,
      WebPubSubHub: 'chat',
      NegotiateIdentity: 'anonymous',
      AZURE_CLIENT_ID: CLIENT_ID,
      IDENTITY_ENDPOINT: `http://127.0.0.1:${identityPort}/msi/token`,
      IDENTITY_HEADER,
      NODE_EXTRA_CA_CERTS: join(TLS, 'localhost.cert.pem'),
    });
  }, 60_000);

  afterAll(async () => {
    await keyless?.stop();
    for (const server of [identityEndpoint, service]) {
      server.closeAllConnections();
      server.close();
    }
  });

  it("negotiates with a token the service issued, asked for with the managed identity's token", async () => {
    const running = keyless as BundleHost;
    const health = await fetch(`${running.baseUrl}/api/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', serviceMode: 'keyless' });

    const response = await fetch(`${running.baseUrl}/api/negotiate`);
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { url: string; token: string; userId: string };
    expect(issuedTokens).toHaveLength(1);
    expect(answer.token).toBe(issuedTokens[0]);
    expect(answer.url).toBe(
      `${serviceOrigin.replace(/^https/, 'wss')}/client/hubs/chat?access_token=${answer.token}`,
    );

    // The user-assigned identity, named by its client id, for the Web PubSub resource; the platform's secret
    // header proves the request comes from inside the app.
    expect(identityCalls).toHaveLength(1);
    const [asked] = identityCalls;
    expect(asked?.url.pathname).toBe('/msi/token');
    expect(asked?.url.searchParams.get('resource')).toBe('https://webpubsub.azure.com');
    expect(asked?.url.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(asked?.headers['x-identity-header']).toBe(IDENTITY_HEADER);

    const generate = serviceCalls.find((call) => call.url.pathname === '/api/hubs/chat/:generateToken');
    expect(generate?.method).toBe('POST');
    expect(generate?.headers.authorization).toBe(`Bearer ${ENTRA_TOKEN}`);
    expect(generate?.url.searchParams.get('userId')).toBe(answer.userId);
  });

  it('pushes with the same identity, without asking the identity endpoint again', async () => {
    const running = keyless as BundleHost;
    const response = await fetch(`${running.baseUrl}/api/hubs/chat/messages`, {
      method: 'POST',
      headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'text/plain' },
      body: 'pushed by a keyless bundle',
    });
    expect(response.status).toBe(202);
    const send = serviceCalls.find((call) => call.url.pathname === '/api/hubs/chat/:send');
    expect(send?.headers.authorization).toBe(`Bearer ${ENTRA_TOKEN}`);
    expect(send?.body).toBe('pushed by a keyless bundle');
    // The credential keeps its token until it nears expiry: one identity call for the life of the process.
    expect(identityCalls).toHaveLength(1);
  });

  it('admits a webhook connect on the function key alone, which is all a keyless service can prove', async () => {
    const running = keyless as BundleHost;
    const send = (functionKey: string | undefined): Promise<Response> =>
      fetch(`${running.baseUrl}/api/webpubsub/events`, {
        method: 'POST',
        headers: {
          // No access key exists to sign with: the service sends no ce-signature.
          ...eventHeaders('connect', {
            'webhook-request-origin': new URL(serviceOrigin).host,
            'ce-signature': undefined,
          }),
          ...(functionKey === undefined ? {} : { 'x-functions-key': functionKey }),
        },
        body: JSON.stringify(connectBody()),
      });
    const admitted = await send(FUNCTION_KEY);
    expect(admitted.status).toBe(200);
    expect(await admitted.json()).toEqual({ subprotocol: 'json.webpubsub.azure.v1' });
    expect((await send(undefined)).status).toBe(401);
    expect((await send('not-the-function-key')).status).toBe(401);
  });

  it("logs neither the identity token nor the platform's identity secret", async () => {
    const running = keyless as BundleHost;
    // A refused negotiate logs why; neither that log nor the successful one may carry a credential.
    expect((await fetch(`${running.baseUrl}/api/negotiate?hub=unknown`)).status).toBe(403);
    expect((await fetch(`${running.baseUrl}/api/negotiate`)).status).toBe(200);
    const output = running.output();
    expect(output).toContain('GET /api/negotiate -> 200');
    expect(output).not.toContain(ENTRA_TOKEN);
    expect(output).not.toContain(IDENTITY_HEADER);
    expect(issuedTokens.length).toBeGreaterThan(0);
    for (const token of issuedTokens) expect(output).not.toContain(token);
  });
});

describe('a key-mode cold start', () => {
  function firstRequest(
    kind: 'negotiate' | 'webhook-connect',
    bundleDir: string,
  ): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, [HARNESS, kind, 'bundled', bundleDir], {
      env: appEnv({
        WebPubSubConnectionString: `Endpoint=https://myresource.webpubsub.azure.com;AccessKey=${ACCESS_KEY};Version=1.0;`,
        WebPubSubHub: 'chat',
        NegotiateIdentity: 'anonymous',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return once(child, 'exit').then(([code]) => ({ code: code as number | null, output }));
  }

  /** A copy of the bundle without the files that hold any of `packages` or whose name starts with `prefix`. */
  function bundleWithout(
    name: string,
    drop: (file: string, packages: string[]) => boolean,
  ): { dir: string; dropped: string[] } {
    const dir = join(workDir as string, name);
    cpSync(bundle.outDir, dir, { recursive: true });
    const dropped = Object.entries(bundle.packagesByFile)
      .filter(([file, packages]) => drop(file, packages))
      .map(([file]) => file);
    for (const file of dropped) rmSync(join(dir, file));
    return { dir, dropped };
  }

  it('answers its first negotiate, and its first webhook connect, without the chunks of @azure/identity, jose and @azure/web-pubsub', async () => {
    const { dir, dropped } = bundleWithout('without-lazy', (_file, packages) =>
      packages.some((name) => LAZY_PACKAGES.includes(name)),
    );
    // Every lazy package is somewhere in the bundle, and all of those files are gone.
    for (const name of LAZY_PACKAGES) {
      expect(dropped.some((file) => bundle.packagesByFile[file]?.includes(name))).toBe(true);
    }
    for (const kind of ['negotiate', 'webhook-connect'] as const) {
      const { code, output } = await firstRequest(kind, dir);
      expect({ kind, output }).toEqual({ kind, output: expect.stringContaining('"status":200') as unknown });
      expect(code).toBe(0);
    }
  });

  it('does need the negotiate chunk (the check above can fail)', async () => {
    const { dir, dropped } = bundleWithout('without-negotiate', (file) =>
      file.startsWith('chunks/negotiate-handlers-'),
    );
    expect(dropped).toHaveLength(1);
    const { code, output } = await firstRequest('negotiate', dir);
    expect(code).toBe(1);
    expect(output).toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
  });
});
