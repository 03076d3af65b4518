import { randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Module from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import * as coreApi from './core-api';
import { createDevIssuer, DEV_ISSUER_PATH, type DevIssuer } from './dev-issuer';
import { invokeHttpFunction, type HttpOutcome } from './invocation';
import { compileRoute, matchRoute, type CompiledRoute } from './routes';
import { applyLocalSettings, readHostJson } from './settings';
import { serveStatic, type StaticFilesOptions } from './static';

export interface LocalHostOptions {
  /** Folder with host.json, local.settings.json and package.json. */
  rootDir: string;
  /** 0 picks a free port (tests). */
  port?: number;
  hostname?: string;
  /** Files that register the functions; default: package.json `main` (a glob with `*` in the file name). */
  entry?: readonly string[];
  /**
   * When set, routes with authLevel function or admin require it as `?code=` or `x-functions-key`, as in
   * Azure. Core Tools skip this check locally; setting a key here keeps local runs honest.
   */
  functionKey?: string;
  /**
   * Which settings file's `Values` go into process.env: local.settings.json by default, falling back to the
   * committed local.settings.json.example on a fresh clone; false applies none.
   */
  applySettings?: boolean;
  /** Request and function log lines; default console.log. */
  log?: (line: string) => void;
  /** Largest request body accepted, as the Functions host's limit (default 100 MB). */
  maxRequestBytes?: number;
  /**
   * Serve the development OpenID Connect issuer (dev-issuer.ts) under /.dev-issuer, and point
   * NegotiateIssuer at it when nothing else set it. Local only: the deployed app has no such thing.
   */
  devIssuer?: boolean;
  /**
   * Static files (the demo page) for GET and HEAD on paths outside the route prefix that no function serves;
   * never under /<routePrefix>/ or /.dev-issuer/. Local only, like the issuer.
   */
  staticFiles?: StaticFilesOptions;
}

export interface HostedFunction {
  name: string;
  route: string;
  methods: string[];
  authLevel: string;
  url: string;
}

export interface LocalHost {
  url: string;
  port: number;
  routePrefix: string;
  functions: HostedFunction[];
  settingsFile: string | undefined;
  appliedSettings: string[];
  /** The development issuer, when enabled. */
  devIssuer: { issuer: string; tokenEndpoint: string } | undefined;
  close(): Promise<void>;
}

interface HttpFunction {
  name: string;
  methods: string[];
  authLevel: string;
  route: CompiledRoute;
  registered: coreApi.RegisteredFunction;
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];

let coreModuleInstalled = false;

/**
 * The real worker answers `require('@azure/functions-core')` with its own API; we do the same, so the app's
 * unmodified @azure/functions registers its functions with us. (Under jest, moduleNameMapper does this.)
 */
function installCoreModule(): void {
  if (coreModuleInstalled) return;
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(target, self, args: unknown[]) {
      return args[0] === '@azure/functions-core' ? coreApi : (Reflect.apply(target, self, args) as unknown);
    },
  });
  coreModuleInstalled = true;
}

function resolveEntry(rootDir: string, entry: readonly string[] | undefined): string[] {
  const patterns = entry ?? [
    (JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8')) as { main?: string }).main ?? 'index.js',
  ];
  const files: string[] = [];
  for (const pattern of patterns) {
    const absolute = resolve(rootDir, pattern);
    const name = absolute.slice(dirname(absolute).length + 1);
    if (!name.includes('*')) {
      files.push(absolute);
      continue;
    }
    const matcher = new RegExp(`^${name.split('*').map(escapeRegExp).join('[^/]*')}$`);
    const dir = dirname(absolute);
    for (const file of readdirSync(dir).sort()) {
      if (matcher.test(file) && !file.endsWith('.d.ts') && !file.endsWith('.map'))
        files.push(join(dir, file));
    }
  }
  if (files.length === 0) throw new Error(`No function files match ${patterns.join(', ')}`);
  return files;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function httpFunctions(): HttpFunction[] {
  const result: HttpFunction[] = [];
  for (const registered of coreApi.localHostInternals.functions()) {
    const { metadata } = registered;
    const trigger = Object.values(metadata.bindings).find((binding) => binding.type === 'httpTrigger');
    if (!trigger) continue;
    result.push({
      name: metadata.name,
      methods: (trigger.methods ?? ALL_METHODS).map((method) => method.toUpperCase()),
      authLevel: (trigger.authLevel ?? 'function').toLowerCase(),
      route: compileRoute(trigger.route ?? metadata.name),
      registered,
    });
  }
  return result.sort((a, b) => b.route.precedence - a.route.precedence);
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolveBody(size === 0 ? undefined : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/** Header map as the Functions host passes it: one string per name, repeated headers joined by ", ". */
function headerRecord(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

function keyMatches(presented: string | null, expected: string): boolean {
  if (presented === null) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function writeResponse(res: ServerResponse, response: HttpOutcome, method: string): void {
  const headers: Record<string, string | string[]> = { ...response.headers };
  if (response.setCookies.length > 0) headers['set-cookie'] = response.setCookies;
  // HEAD sends no body, but its Content-Length must be that of the body a GET would get (RFC 9110 §8.6).
  const { body } = response;
  if (method !== 'HEAD' || headers['content-length'] === undefined || body.length > 0) {
    headers['content-length'] = String(body.length);
  }
  res.writeHead(response.status, headers);
  res.end(method === 'HEAD' ? undefined : body);
}

function sendStatus(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': '0' });
  res.end();
}

/**
 * A local Azure Functions host for Node alone: loads the app's own registrations and serves its HTTP
 * functions through the app's own programming model (invocation.ts), as the Functions worker under
 * `func start` and in Azure does.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const rootDir = resolve(options.rootDir);
  const log = options.log ?? ((line: string) => console.log(line));
  const { routePrefix } = readHostJson(rootDir);
  const settingsFile = existsSync(join(rootDir, 'local.settings.json'))
    ? 'local.settings.json'
    : 'local.settings.json.example';
  const appliedSettings =
    options.applySettings === false ? [] : applyLocalSettings(rootDir, process.env, settingsFile);
  const maxRequestBytes = options.maxRequestBytes ?? 100 * 1024 * 1024;

  installCoreModule();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the app's files is the host's job
  for (const file of resolveEntry(rootDir, options.entry)) require(file);
  const functions = httpFunctions();
  for (const hook of coreApi.localHostInternals.hooks('appStart'))
    await hook({ hookData: {}, appHookData: {} });

  const prefixSegments = routePrefix === '' ? [] : routePrefix.toLowerCase().split('/');
  let devIssuer: DevIssuer | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<void> {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', baseUrl);
    let status = 0;
    let name = '-';
    try {
      if (devIssuer && (url.pathname === DEV_ISSUER_PATH || url.pathname.startsWith(`${DEV_ISSUER_PATH}/`))) {
        name = 'dev-issuer';
        await devIssuer.handle(req, res, url);
        status = res.statusCode;
        return;
      }
      const segments = url.pathname.replace(/^\/+/, '').split('/');
      const prefixMatches = prefixSegments.every((segment, i) => segments[i]?.toLowerCase() === segment);
      const rest = prefixMatches ? segments.slice(prefixSegments.length).join('/') : undefined;
      let target: { fn: HttpFunction; params: Record<string, string> } | undefined;
      if (rest !== undefined) {
        for (const fn of functions) {
          if (!fn.methods.includes(method)) continue;
          const params = matchRoute(fn.route, rest);
          if (params) {
            target = { fn, params };
            break;
          }
        }
      }
      if (!target && options.staticFiles && rest === undefined && (method === 'GET' || method === 'HEAD')) {
        name = 'static';
        status = await serveStatic(options.staticFiles, url.pathname, method, res);
        return;
      }
      if (!target) {
        status = 404;
        sendStatus(res, status);
        return;
      }
      name = target.fn.name;
      if (options.functionKey !== undefined && target.fn.authLevel !== 'anonymous') {
        const presented = req.headers['x-functions-key'];
        const key = typeof presented === 'string' ? presented : url.searchParams.get('code');
        if (!keyMatches(key, options.functionKey)) {
          status = 401;
          sendStatus(res, status);
          return;
        }
      }
      let body: Buffer | undefined;
      try {
        body = await readBody(req, maxRequestBytes);
      } catch {
        status = 413;
        if (!res.headersSent && !res.destroyed) sendStatus(res, status);
        return;
      }
      const functionName = target.fn.name;
      let outcome: HttpOutcome;
      try {
        // As the worker does: through the app's own @azure/functions, from the Functions host's RPC shapes.
        outcome = await invokeHttpFunction(
          target.fn.registered,
          randomUUID(),
          {
            method,
            url: url.toString(),
            headers: headerRecord(req),
            params: target.params,
            ...(body ? { body: { bytes: body } } : {}),
          },
          (level, _category, message) => log(`[${functionName}] ${level}: ${message}`),
        );
      } catch (error) {
        // As the Functions host: an exception from the function is a bare 500.
        log(
          `[${functionName}] error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        status = 500;
        sendStatus(res, status);
        return;
      }
      status = outcome.status;
      writeResponse(res, outcome, method);
    } finally {
      // The query string is left out on purpose: it carries function keys (?code=) and access tokens.
      log(`${method} ${url.pathname} -> ${status} ${name} (${(performance.now() - started).toFixed(1)} ms)`);
    }
  }

  const server: Server = createServer();
  const hostname = options.hostname ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, hostname, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const displayHost = hostname === '127.0.0.1' || hostname === '0.0.0.0' ? 'localhost' : hostname;
  const baseUrl = `http://${displayHost}:${port}`;
  let issuerSetting: string | undefined;
  if (options.devIssuer === true) {
    // 127.0.0.1 rather than localhost: the app fetches the issuer's keys, and localhost may resolve to ::1.
    const issuerHost = hostname === '0.0.0.0' || hostname === 'localhost' ? '127.0.0.1' : hostname;
    devIssuer = createDevIssuer({
      issuer: `http://${issuerHost.includes(':') ? `[${issuerHost}]` : issuerHost}:${port}${DEV_ISSUER_PATH}`,
      defaultAudience: () => process.env.NegotiateAudience?.split(',')[0]?.trim(),
    });
    if (process.env.NegotiateIssuer === undefined) {
      issuerSetting = devIssuer.issuer;
      process.env.NegotiateIssuer = issuerSetting;
      appliedSettings.push('NegotiateIssuer');
    }
  }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, baseUrl).catch((error: unknown) => {
      log(`local host error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendStatus(res, 500);
      else res.destroy();
    });
  });

  const prefixPath = routePrefix === '' ? '' : `/${routePrefix}`;
  return {
    url: baseUrl,
    port,
    routePrefix,
    settingsFile: options.applySettings === false ? undefined : settingsFile,
    appliedSettings,
    devIssuer: devIssuer && { issuer: devIssuer.issuer, tokenEndpoint: devIssuer.tokenEndpoint },
    functions: functions.map((fn) => ({
      name: fn.name,
      route: fn.route.template,
      methods: fn.methods,
      authLevel: fn.authLevel,
      url: `${baseUrl}${prefixPath}/${fn.route.template.replace(/^\/+/, '')}`,
    })),
    async close() {
      for (const hook of coreApi.localHostInternals.hooks('appTerminate'))
        await hook({ hookData: {}, appHookData: {} });
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      // The issuer was ours to set; another host (or a test) must not inherit a dead one.
      if (issuerSetting !== undefined && process.env.NegotiateIssuer === issuerSetting) {
        Reflect.deleteProperty(process.env, 'NegotiateIssuer');
      }
    },
  };
}
