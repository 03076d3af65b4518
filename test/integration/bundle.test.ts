/**
 * The deployable bundle (dev/bundle.ts) proven to work, not just to build: built into a temporary folder laid
 * out as azd deploys it (host.json, package.json whose `main` is the bundle, the bundle files, no
 * node_modules), served by the local host in its own process against the local Web PubSub emulator, and
 * answering health, a bearer negotiate (jose's chunk), a push that reaches a connected client (the chunks of
 * @azure/web-pubsub and its HTTP pipeline) and a signed webhook connect. And key-mode negotiate proven not to
 * need @azure/identity, jose or @azure/web-pubsub at all: with the chunks that hold them deleted, a cold start
 * still answers its first negotiate.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
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
let emulator: Emulator | undefined;
let bundle: BundleResult;
let host: ChildProcessByStdio<null, Readable, Readable> | undefined;
let baseUrl: string;
let hostOutput = '';

/** Only our settings: nothing from the developer's shell may change what the bundle does. */
function appEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, ...settings };
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
  const deployDir = join(workDir, 'deploy');
  bundle = await buildBundle({ outDir: deployDir });
  writeFileSync(join(deployDir, 'package.json'), deployPackageJson());
  copyFileSync(join(ROOT, 'host.json'), join(deployDir, 'host.json'));

  const script = `require(${JSON.stringify(HOST_SERVER)}).startLocalHost({ rootDir: ${JSON.stringify(deployDir)},
    port: 0, applySettings: false, devIssuer: true, functionKey: ${JSON.stringify(FUNCTION_KEY)},
    log: (line) => process.stderr.write(line + '\\n') })
    .then((host) => process.stdout.write(JSON.stringify({ url: host.url, port: host.port }) + '\\n'),
          (error) => { console.error(error); process.exit(1); });`;
  host = spawn(process.execPath, ['-e', script], {
    cwd: deployDir,
    env: appEnv({
      WebPubSubConnectionString: emulator.connectionString,
      WebPubSubHub: 'chat',
      NegotiateIdentity: 'bearer',
      NegotiateAudience: AUDIENCE,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  host.stderr.on('data', (chunk: Buffer) => (hostOutput += chunk.toString()));
  const [line] = (await Promise.race([
    once(host.stdout, 'data'),
    once(host, 'exit').then(() => {
      throw new Error(`the local host exited: ${hostOutput}`);
    }),
  ])) as [Buffer];
  const { port } = JSON.parse(line.toString()) as { port: number };
  baseUrl = `http://127.0.0.1:${port}`;
}, 180_000);

afterAll(async () => {
  if (host?.exitCode === null) {
    const exited = once(host, 'exit');
    host.kill('SIGTERM');
    await exited;
  }
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
