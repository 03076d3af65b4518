import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEmulator, type Emulator } from '../emulator';
import { DEFAULT_ACCESS_KEY, DEFAULT_PORT as DEFAULT_EMULATOR_PORT, SYSTEM_EVENTS } from '../emulator/config';
import { startLocalHost, type LocalHost } from './host/server';

/**
 * The whole system on one machine with Node alone: the local Web PubSub emulator and the local Functions
 * host wired to each other (the host's WebPubSubConnectionString is the emulator's; the emulator's event
 * handler is the host's webhook), the development sign-in, and the demo page at `/`.
 *
 * Settings given explicitly win: a WebPubSubConnectionString or WebPubSubEndpoint in the environment (or
 * `env`) or in local.settings.json points the host at that service instead, and then no emulator is
 * started. One exception keeps a local.settings.json copied from the example working on any emulator port:
 * a connection string naming the emulator's default address and key (http://localhost:8080, the documented
 * public key) means "the local emulator", wherever this stack binds it.
 */
export interface LocalStackOptions {
  /** The Functions host's port (default 7071; 0 = any free port). */
  port?: number;
  /** The emulator's port (default 8080; 0 = any free port). */
  emulatorPort?: number;
  /** Address both listen on (default 127.0.0.1). */
  hostname?: string;
  /** Request and emulator log lines; default console.log. */
  log?: (line: string) => void;
  /** Settings for this stack, applied to process.env before anything else (they win over everything). */
  env?: Record<string, string>;
  /** The repository root (host.json, local.settings.json, package.json, web/dist); default this checkout. */
  rootDir?: string;
  /** The function registration files; default package.json `main` (the build). Tests pass the sources. */
  entry?: readonly string[];
  /** Enforce this function key on authLevel function routes, as Azure does (the emulator is given it). */
  functionKey?: string;
  /** The demo page's folder; default `<rootDir>/web/dist`. */
  webDir?: string;
}

export interface LocalStack {
  /** `http://localhost:<port>` of the Functions host (its page, /api and /.dev-issuer). */
  url: string;
  /** `http://localhost:<port>` of the emulator; empty when the host uses an explicitly configured service. */
  emulatorUrl: string;
  /** The emulator's connection string; empty when the host uses an explicitly configured service. */
  connectionString: string;
  /** Where the host's Web PubSub settings come from. */
  service: { kind: 'emulator' } | { kind: 'explicit'; source: string; endpoint: string };
  host: LocalHost;
  emulator: Emulator | undefined;
  /** The hubs the emulator routes to the host's webhook. */
  hubs: string[];
  /** The emulator's event handler (the host's webhook), without the function key; empty without emulator. */
  eventHandlerUrl: string;
  close(): Promise<void>;
}

/** The checkout: the folder above dev/ (sources, under jest) or above dist/dev/ (the build). */
const ROOT = existsSync(join(__dirname, '..', 'host.json'))
  ? resolve(__dirname, '..')
  : resolve(__dirname, '..', '..');
const SERVICE_SETTINGS = ['WebPubSubConnectionString', 'WebPubSubEndpoint'] as const;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function readLocalSettings(rootDir: string): Record<string, unknown> {
  const path = join(rootDir, 'local.settings.json');
  if (!existsSync(path)) return {};
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, unknown> };
    return json.Values ?? {};
  } catch {
    // The host reads it next and reports the fault with the file's name.
    return {};
  }
}

/** True for a connection string that names the emulator's default address and documented key. */
export function isDefaultEmulatorConnectionString(value: string): boolean {
  const parts = new Map<string, string>();
  for (const segment of value.split(';')) {
    const at = segment.indexOf('=');
    if (at > 0) parts.set(segment.slice(0, at).trim().toLowerCase(), segment.slice(at + 1).trim());
  }
  let endpoint: URL;
  try {
    endpoint = new URL(parts.get('endpoint') ?? '');
  } catch {
    return false;
  }
  const port = parts.get('port') ?? endpoint.port;
  return (
    endpoint.protocol === 'http:' &&
    LOOPBACK.has(endpoint.hostname.toLowerCase()) &&
    port === String(DEFAULT_EMULATOR_PORT) &&
    parts.get('accesskey') === DEFAULT_ACCESS_KEY
  );
}

/** The explicitly configured service, if any: the environment first, then local.settings.json. */
export function explicitService(
  rootDir: string,
): { source: string; name: string; value: string } | undefined {
  const file = readLocalSettings(rootDir);
  for (const [source, values] of [
    ['the environment', process.env],
    ['local.settings.json', file],
  ] as const) {
    for (const name of SERVICE_SETTINGS) {
      const value = values[name];
      if (typeof value !== 'string' || value.trim() === '') continue;
      if (name === 'WebPubSubConnectionString' && isDefaultEmulatorConnectionString(value)) return undefined;
      return { source, name, value };
    }
  }
  return undefined;
}

function endpointOf(setting: { name: string; value: string }): string {
  if (setting.name === 'WebPubSubEndpoint') return setting.value;
  // Only the endpoint is shown: the rest of a connection string is a secret.
  return /(?:^|;)\s*endpoint=([^;]*)/i.exec(setting.value)?.[1]?.trim() ?? '(unknown endpoint)';
}

/** The hubs the app serves (WebPubSubHub, default chat, and WebPubSubHubs), as the app's settings name them. */
export function hubsFromSettings(values: Readonly<Record<string, unknown>> = process.env): string[] {
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' && value.trim() !== '' ? value : undefined;
  };
  const hubs: string[] = [];
  const names = [text('WebPubSubHub') ?? 'chat', ...(text('WebPubSubHubs') ?? '').split(',')];
  for (const name of names.map((hub) => hub.trim()).filter((hub) => hub !== '')) {
    if (!hubs.some((known) => known.toLowerCase() === name.toLowerCase())) hubs.push(name);
  }
  return hubs;
}

export function missingPageHtml(webDir: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Web PubSub chat: page not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>The demo page is not built yet</h1>
<p>Nothing was found in <code>${webDir.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`)}</code>.
Build it with <code>npm run build:web</code>, then reload this page.</p>
<p>The API is up: <a href="/api/health">/api/health</a>.</p>
</body></html>
`;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const rootDir = resolve(options.rootDir ?? ROOT);
  const log = options.log ?? ((line: string) => console.log(line));
  const hostname = options.hostname ?? '127.0.0.1';
  const webDir = resolve(options.webDir ?? join(rootDir, 'web', 'dist'));

  // Everything this stack writes into process.env is put back on close: a test may start another one.
  const saved = new Map<string, string | undefined>();
  const setEnv = (name: string, value: string): void => {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    process.env[name] = value;
  };
  const restoreEnv = (): void => {
    for (const [name, value] of saved) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  };
  for (const [name, value] of Object.entries(options.env ?? {})) setEnv(name, value);

  const explicit = explicitService(rootDir);
  let host: LocalHost | undefined;
  let emulator: Emulator | undefined;
  try {
    host = await startLocalHost({
      rootDir,
      port: options.port ?? 7071,
      hostname,
      entry: options.entry,
      functionKey: options.functionKey,
      devIssuer: true,
      log,
      staticFiles: { dir: webDir, missingIndexHtml: missingPageHtml(webDir) },
    });
    const hubs = hubsFromSettings();
    let eventHandlerUrl = '';
    if (explicit === undefined) {
      const key = options.functionKey === undefined ? '' : `?code=${encodeURIComponent(options.functionKey)}`;
      const prefix = host.routePrefix === '' ? '' : `/${host.routePrefix}`;
      // 127.0.0.1 rather than localhost: localhost may resolve to ::1, where the host does not listen.
      const handlerHost = hostname === '0.0.0.0' || hostname === 'localhost' ? '127.0.0.1' : hostname;
      eventHandlerUrl = `http://${handlerHost.includes(':') ? `[${handlerHost}]` : handlerHost}:${host.port}${prefix}/webpubsub/events`;
      const urlTemplate = `${eventHandlerUrl}${key}`;
      emulator = await createEmulator({
        port: options.emulatorPort ?? DEFAULT_EMULATOR_PORT,
        host: hostname,
        hubs: Object.fromEntries(
          hubs.map((hub) => [
            hub,
            { eventHandlers: [{ urlTemplate, systemEvents: [...SYSTEM_EVENTS], userEventPattern: '*' }] },
          ]),
        ),
        log,
      });
      // The app reads its settings on its first request, which comes after this.
      setEnv('WebPubSubConnectionString', emulator.connectionString);
    }
    const started = host;
    const startedEmulator = emulator;
    let closing: Promise<void> | undefined;
    return {
      url: host.url,
      emulatorUrl: emulator?.endpoint ?? '',
      connectionString: emulator?.connectionString ?? '',
      service:
        explicit === undefined
          ? { kind: 'emulator' }
          : { kind: 'explicit', source: explicit.source, endpoint: endpointOf(explicit) },
      host,
      emulator,
      hubs,
      eventHandlerUrl,
      close() {
        // The emulator first: its clients' disconnected events still reach a running host.
        closing ??= (async () => {
          try {
            await startedEmulator?.close();
          } finally {
            await started.close();
            restoreEnv();
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    await emulator?.close();
    await host?.close();
    restoreEnv();
    throw error;
  }
}
