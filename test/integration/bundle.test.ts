/**
 * The deployable bundle (dev/bundle.ts) proven to work, not just to build: built into a temporary folder laid
 * out as azd deploys it (host.json, package.json whose `main` is the bundle, the bundle files, no
 * node_modules), served by the local host in its own process, and answering health, a bearer negotiate and a
 * signed webhook connect. And key-mode negotiate proven not to need @azure/identity, jose or @azure/web-pubsub
 * at all: with the chunks that hold them deleted, a cold start still answers its first negotiate.
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
import { buildBundle, deployPackageJson, type BundleResult } from '../../dev/bundle';
import { ACCESS_KEY, connectBody, eventHeaders } from '../support/cloud-events';

const ROOT = join(__dirname, '..', '..');
const HOST_SERVER = join(ROOT, 'dist', 'dev', 'host', 'server.js');
const HARNESS = join(ROOT, 'dist', 'bench', 'cold-start', 'first-negotiate.js');
const ENDPOINT = 'https://myresource.webpubsub.azure.com';
const CONNECTION_STRING = `Endpoint=${ENDPOINT};AccessKey=${ACCESS_KEY};Version=1.0;`;
const AUDIENCE = 'api://bundle-test';
// Packages only keyless mode, bearer identity or the push API need.
const LAZY_PACKAGES = ['@azure/identity', 'jose', '@azure/web-pubsub', '@azure/core-rest-pipeline'];

let workDir: string | undefined;
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
  workDir = mkdtempSync(join(tmpdir(), 'wps-bundle-'));
  const deployDir = join(workDir, 'deploy');
  bundle = await buildBundle({ outDir: deployDir });
  writeFileSync(join(deployDir, 'package.json'), deployPackageJson());
  copyFileSync(join(ROOT, 'host.json'), join(deployDir, 'host.json'));

  const script = `require(${JSON.stringify(HOST_SERVER)}).startLocalHost({ rootDir: ${JSON.stringify(deployDir)},
    port: 0, applySettings: false, devIssuer: true, log: (line) => process.stderr.write(line + '\\n') })
    .then((host) => process.stdout.write(JSON.stringify({ url: host.url, port: host.port }) + '\\n'),
          (error) => { console.error(error); process.exit(1); });`;
  host = spawn(process.execPath, ['-e', script], {
    cwd: deployDir,
    env: appEnv({
      WebPubSubConnectionString: CONNECTION_STRING,
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
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

describe('the bundle', () => {
  it('imports nothing at run time but Node built-ins and the worker-supplied @azure/functions-core', () => {
    const builtins = new Set(builtinModules);
    const externals = Object.values(bundle.metafile.outputs).flatMap((output) =>
      output.imports.filter((entry) => entry.external).map((entry) => entry.path),
    );
    const foreign = externals.filter(
      (path) => path !== '@azure/functions-core' && !path.startsWith('node:') && !builtins.has(path),
    );
    expect(foreign).toEqual([]);
    // The entry holds the registrations and @azure/functions only; each lazy package sits in a chunk.
    expect(bundle.packagesByFile['main.mjs']).toEqual([
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
    const issued = await fetch(`${baseUrl}/.dev-issuer/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'alice', aud: AUDIENCE }),
    });
    expect(issued.status).toBe(200);
    const { access_token: callerToken } = (await issued.json()) as { access_token: string };
    const response = await fetch(`${baseUrl}/api/negotiate`, {
      headers: { authorization: `Bearer ${callerToken}` },
    });
    expect(response.status).toBe(200);
    const { url } = (await response.json()) as { url: string };
    const clientUrl = new URL(url);
    expect(`${clientUrl.origin}${clientUrl.pathname}`).toBe(
      'wss://myresource.webpubsub.azure.com/client/hubs/chat',
    );
    // Verified with jose and the access key, not with our code: the service would accept it.
    const { payload } = await jwtVerify(
      clientUrl.searchParams.get('access_token') ?? '',
      Buffer.from(ACCESS_KEY),
      {
        audience: `${ENDPOINT}/client/hubs/chat`,
      },
    );
    expect(payload.sub).toBe('alice');
  });

  it('admits a signed webhook connect', async () => {
    const response = await fetch(`${baseUrl}/api/webpubsub/events`, {
      method: 'POST',
      headers: eventHeaders('connect'),
      body: JSON.stringify(connectBody()),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ subprotocol: 'json.webpubsub.azure.v1' });
  });

  it('refuses a webhook connect with a wrong signature', async () => {
    const response = await fetch(`${baseUrl}/api/webpubsub/events`, {
      method: 'POST',
      headers: eventHeaders('connect', { 'ce-signature': `sha256=${'0'.repeat(64)}` }),
      body: JSON.stringify(connectBody()),
    });
    expect(response.status).toBe(401);
  });
});

describe('a key-mode cold start', () => {
  function firstNegotiate(bundleDir: string): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, [HARNESS, 'bundled', bundleDir], {
      env: appEnv({
        WebPubSubConnectionString: CONNECTION_STRING,
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

  it('answers its first negotiate without the chunks of @azure/identity, jose and @azure/web-pubsub', async () => {
    const { dir, dropped } = bundleWithout('without-lazy', (_file, packages) =>
      packages.some((name) => LAZY_PACKAGES.includes(name)),
    );
    // Every lazy package is somewhere in the bundle, and all of those files are gone.
    for (const name of LAZY_PACKAGES) {
      expect(dropped.some((file) => bundle.packagesByFile[file]?.includes(name))).toBe(true);
    }
    const { code, output } = await firstNegotiate(dir);
    expect(output).toContain('"status":200');
    expect(code).toBe(0);
  });

  it('does need the negotiate chunk (the check above can fail)', async () => {
    const { dir, dropped } = bundleWithout('without-negotiate', (file) =>
      file.startsWith('chunks/negotiate-handlers-'),
    );
    expect(dropped).toHaveLength(1);
    const { code, output } = await firstNegotiate(dir);
    expect(code).toBe(1);
    expect(output).toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
  });
});
