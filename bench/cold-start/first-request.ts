/**
 * One cold start, run as its own process by the cold-start benchmark and by test/integration/bundle.test.ts:
 * load the app as the Functions worker would (every registration, with a stand-in `@azure/functions-core`),
 * answer one request, print the answer's status as one JSON line, and exit.
 *
 *   node dist/bench/cold-start/first-request.js <request> unbundled
 *   node dist/bench/cold-start/first-request.js <request> eager    (unbundled, every handler loaded at start-up)
 *   node dist/bench/cold-start/first-request.js <request> bundled <deployed folder: package.json, main.js, …>
 *
 * <request> is `negotiate` (key mode, anonymous identity: GET /api/negotiate) or `webhook-connect` (the webhook
 * benchmark's signed connect event, as the service sends when a client opens its WebSocket).
 *
 * Settings come from the environment: the parent sets a key-mode connection string with the webhook fixture's
 * origin and access key, and anonymous identity.
 *
 * The invocation passes a plain request object: the handlers read only method, url, headers.get, params
 * and body. The worker's own HttpRequest wraps a WHATWG Request, and the first one makes Node load its
 * internal undici (~30 ms on the benchmark machine) before any app code runs, the same for every app, bundled
 * or not; like the issue's own measurement (load the packages, mint one token), this one leaves it out.
 *
 * The answer is written with `fs.writeSync(1, …)`: `process.stdout` on a pipe would build a net.Socket and
 * load Node's stream and net modules (~3–4 ms), the harness's cost, not the app's.
 */
import Module from 'node:module';
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as coreApi from '../../dev/host/core-api';
import type * as WebhookFixture from '../webhook/fixture';

// Compiled to dist/bench/cold-start/: the compiled app is dist/src/functions.
const FUNCTIONS_DIR = resolve(__dirname, '..', '..', 'src', 'functions');
const EAGER_MODULES = ['handlers.js', 'negotiate-handlers.js', 'push-handlers.js'];
const USAGE = 'usage: first-request.js negotiate|webhook-connect unbundled|eager|bundled [<dir>]';

interface FirstRequest {
  functionName: string;
  request: {
    method: string;
    url: string;
    headers: { get(name: string): string | null };
    params: Record<string, string>;
    query: URLSearchParams;
    body: AsyncIterable<Uint8Array> | null;
  };
}

function headerReader(headers: Record<string, string>): { get(name: string): string | null } {
  return { get: (name) => headers[name.toLowerCase()] ?? null };
}

function firstRequest(kind: string): FirstRequest {
  if (kind === 'negotiate') {
    return {
      functionName: 'negotiate',
      request: {
        method: 'GET',
        url: 'http://127.0.0.1:7071/api/negotiate?userId=cold',
        headers: headerReader({ origin: 'https://chat.example' }),
        params: {},
        query: new URLSearchParams('userId=cold'),
        body: null,
      },
    };
  }
  if (kind === 'webhook-connect') {
    // The webhook benchmark's connect, signed by the external test vector: the parent's connection string
    // carries that vector's key and origin. Required here, not imported, so negotiate starts never load it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const { CONNECT_REQUEST } = require('../webhook/fixture') as typeof WebhookFixture;
    return {
      functionName: 'webpubsubEvents',
      request: {
        method: CONNECT_REQUEST.method,
        url: `http://127.0.0.1:7071${CONNECT_REQUEST.path}`,
        headers: headerReader({
          ...CONNECT_REQUEST.headers,
          'content-length': String(Buffer.byteLength(CONNECT_REQUEST.body)),
        }),
        params: {},
        query: new URLSearchParams(),
        // The worker's body is a stream; an array of chunks iterates the same way under `for await`.
        body: [Buffer.from(CONNECT_REQUEST.body)] as unknown as AsyncIterable<Uint8Array>,
      },
    };
  }
  throw new Error(USAGE);
}

function installCoreModule(): void {
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(target, self, args: unknown[]) {
      return args[0] === '@azure/functions-core' ? coreApi : (Reflect.apply(target, self, args) as unknown);
    },
  });
}

async function loadApp(mode: string, bundleDir: string | undefined): Promise<void> {
  if (mode === 'unbundled' || mode === 'eager') {
    for (const file of readdirSync(FUNCTIONS_DIR).sort()) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the app is the harness's job
      if (file.endsWith('.js')) require(join(FUNCTIONS_DIR, file));
    }
    // The app as it was before its registrations loaded handlers lazily: every handler module (and through
    // them the chat app, the push API and @azure/web-pubsub) evaluated at start-up, as static imports did.
    if (mode === 'eager') {
      for (const file of [
        ...EAGER_MODULES.map((name) => join(FUNCTIONS_DIR, 'runtime', name)),
        join(FUNCTIONS_DIR, '..', 'service', 'clients.js'),
      ]) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
        require(file);
      }
    }
    return;
  }
  if (mode === 'bundled' && bundleDir !== undefined) {
    await loadMain(bundleDir);
    return;
  }
  throw new Error(USAGE);
}

/**
 * The deployed folder's `main`, loaded as the Functions Node worker loads it: `import()` for an ES module,
 * `require` otherwise.
 */
async function loadMain(dir: string): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    main?: string;
    type?: string;
  };
  const main = join(dir, manifest.main ?? 'index.js');
  if (main.endsWith('.mjs') || (main.endsWith('.js') && manifest.type === 'module')) {
    await import(pathToFileURL(main).href);
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the app is the harness's job
    require(main);
  }
}

async function main(): Promise<void> {
  const [kind = '', mode = '', bundleDir] = process.argv.slice(2);
  const { functionName, request } = firstRequest(kind);
  installCoreModule();
  await loadApp(mode, bundleDir);
  const registered = coreApi.localHostInternals.functions().find((fn) => fn.metadata.name === functionName);
  if (registered === undefined) throw new Error(`the app registered no ${functionName} function`);
  const quiet = (): void => undefined;
  const response = (await registered.callback(request, {
    invocationId: 'cold-start',
    info: quiet,
    warn: quiet,
    error: quiet,
    log: quiet,
    debug: quiet,
    trace: quiet,
  })) as { status?: number; body?: unknown };
  const body = typeof response.body === 'string' ? (JSON.parse(response.body) as { url?: unknown }) : {};
  writeSync(
    1,
    `${JSON.stringify({ status: response.status, url: typeof body.url === 'string' ? body.url.split('?')[0] : undefined })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
