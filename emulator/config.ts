import { isValidHubName, normalizeHubName } from '../src/protocol/names';

/**
 * The documented default access key of Microsoft's emulator (tools/emulator README), so that connection
 * strings written for one work with the other. It is public: anything secret needs `accessKey`.
 */
export const DEFAULT_ACCESS_KEY = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH';
export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';

export const SYSTEM_EVENTS = ['connect', 'connected', 'disconnected'] as const;
export type SystemEvent = (typeof SYSTEM_EVENTS)[number];

/** One entry of a hub's ordered event-handler list (the service's "event handler settings"). */
export interface EventHandlerOptions {
  /** Absolute http(s) URL; `{hub}` and `{event}` (any case) are replaced, URL-escaped, per event. */
  urlTemplate: string;
  /** System events sent to this handler: any of connect, connected, disconnected. */
  systemEvents?: readonly string[];
  /** User events sent to this handler: `*`, one name, or a comma-separated list (case-insensitive). */
  userEventPattern?: string;
}

export interface HubOptions {
  eventHandlers?: readonly EventHandlerOptions[];
}

export interface EmulatorLimits {
  /** Largest client WebSocket message; above it the socket closes with 1009. */
  maxClientMessageBytes?: number;
  /** Largest REST request body (413 above). */
  maxRestBodyBytes?: number;
  /** Messages written to a socket and not yet flushed; above it the slow client is dropped. */
  maxOutboundMessages?: number;
  /** Bytes buffered for a socket and not yet flushed; above it the slow client is dropped. */
  maxOutboundBytes?: number;
  /** Unacknowledged messages a reliable connection keeps for replay; above it the connection closes 1008. */
  maxReliableMessages?: number;
  maxReliableBytes?: number;
  /** Largest event-handler response body read. */
  maxHandlerResponseBytes?: number;
  /** Processed ackIds remembered per connection for `Duplicate` answers. */
  ackCacheSize?: number;
}

export interface EmulatorOptions {
  /** Port to listen on; 0 picks a free one (the connection string shows the bound port). Default 8080. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Primary access key: signs and verifies tokens and `ce-signature`. Default DEFAULT_ACCESS_KEY. */
  accessKey?: string;
  /** Secondary key: tokens signed with it are accepted and `ce-signature` carries both signatures. */
  secondaryAccessKey?: string;
  /** Hub name (case-insensitive) to its event handlers; the hub `*` applies to hubs not listed. */
  hubs?: Readonly<Record<string, HubOptions>>;
  /** Total time for one event, retries included. Default 100 s. */
  eventHandlerTimeoutMs?: number;
  /** Pauses before each retry of an event or validation (408, 5xx, network errors). Default 1, 3, 5 s. */
  retryDelaysMs?: readonly number[];
  /** Time for one validation (OPTIONS) attempt. Default 10 s. */
  validationTimeoutMs?: number;
  /** How long a dropped reliable connection can be recovered. Default 30 s. */
  reliableRecoveryWindowMs?: number;
  limits?: EmulatorLimits;
  /** Operational log lines (never secrets); default: none. */
  log?: (line: string) => void;
}

export interface EventHandlerConfig {
  urlTemplate: string;
  systemEvents: ReadonlySet<SystemEvent>;
  /** undefined: no user events; 'all': `*`; otherwise lower-cased names. */
  userEvents: 'all' | ReadonlySet<string> | undefined;
}

export interface EmulatorConfig {
  port: number;
  host: string;
  accessKeys: readonly string[];
  hubs: ReadonlyMap<string, readonly EventHandlerConfig[]>;
  eventHandlerTimeoutMs: number;
  retryDelaysMs: readonly number[];
  validationTimeoutMs: number;
  reliableRecoveryWindowMs: number;
  limits: Required<EmulatorLimits>;
  log: (line: string) => void;
}

export const DEFAULT_LIMITS: Required<EmulatorLimits> = {
  maxClientMessageBytes: 1024 * 1024,
  maxRestBodyBytes: 1024 * 1024,
  maxOutboundMessages: 1000,
  maxOutboundBytes: 16 * 1024 * 1024,
  maxReliableMessages: 1000,
  maxReliableBytes: 16 * 1024 * 1024,
  maxHandlerResponseBytes: 16 * 1024 * 1024,
  ackCacheSize: 1000,
};

/** A configuration the emulator refuses to start with; the message names the option and the fault. */
export class EmulatorConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmulatorConfigError';
  }
}

const fail = (message: string): never => {
  throw new EmulatorConfigError(message);
};

const OPTION_NAMES = new Set([
  'port',
  'host',
  'accessKey',
  'secondaryAccessKey',
  'hubs',
  'eventHandlerTimeoutMs',
  'retryDelaysMs',
  'validationTimeoutMs',
  'reliableRecoveryWindowMs',
  'limits',
  'log',
]);
const HANDLER_NAMES = new Set(['urlTemplate', 'systemEvents', 'userEventPattern']);
const HUB_NAMES = new Set(['eventHandlers']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknown(value: Record<string, unknown>, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(value)) {
    if (known.has(key)) continue;
    // The service's handlers can authenticate with a managed identity; this emulator cannot fake one.
    if (key.toLowerCase() === 'auth') {
      fail(`${where}.auth is not supported: the emulator signs events with ce-signature only`);
    }
    fail(`${where}.${key} is not a known option`);
  }
}

/** Why an access key is unusable, or undefined (same rules as Microsoft's emulator). */
export function accessKeyProblem(key: string): string | undefined {
  if (Buffer.byteLength(key, 'utf8') < 32) return 'must be at least 32 bytes long';
  if (key.trim() !== key) return 'must not start or end with whitespace';
  if (key.includes(';')) return "must not contain ';' (it would break the connection string)";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'must not contain control characters';
  return undefined;
}

function positiveInteger(value: unknown, name: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    fail(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
  }
  return value as number;
}

const PLACEHOLDER = /\{(hub|event)\}/gi;

/** Checks a URL template once, at startup: absolute http(s), placeholders only in the path and query. */
function checkUrlTemplate(template: unknown, where: string): string {
  if (typeof template !== 'string' || template.trim() === '') fail(`${where}.urlTemplate is required`);
  const text = template as string;
  if (/^tunnel:/i.test(text)) fail(`${where}.urlTemplate: tunnel:// handlers need the real service`);
  if (text.includes('@Microsoft.KeyVault(')) {
    fail(`${where}.urlTemplate: Key Vault references cannot be resolved locally`);
  }
  let url: URL;
  try {
    url = new URL(text.replace(PLACEHOLDER, 'x'));
  } catch {
    return fail(`${where}.urlTemplate must be an absolute http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(`${where}.urlTemplate must be an absolute http:// or https:// URL`);
  }
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(text)?.[1] ?? '';
  if (authority.includes('{')) fail(`${where}.urlTemplate: placeholders are not allowed in the host`);
  return text;
}

function checkHandler(value: unknown, where: string): EventHandlerConfig {
  if (!isRecord(value)) return fail(`${where} must be an object`);
  rejectUnknown(value, HANDLER_NAMES, where);
  const urlTemplate = checkUrlTemplate(value.urlTemplate, where);
  const systemEvents = new Set<SystemEvent>();
  if (value.systemEvents !== undefined) {
    if (!Array.isArray(value.systemEvents)) fail(`${where}.systemEvents must be an array`);
    for (const entry of value.systemEvents as unknown[]) {
      const name = typeof entry === 'string' ? entry.trim().toLowerCase() : '';
      if (!(SYSTEM_EVENTS as readonly string[]).includes(name)) {
        fail(`${where}.systemEvents: ${JSON.stringify(entry)} is not one of ${SYSTEM_EVENTS.join(', ')}`);
      }
      systemEvents.add(name as SystemEvent);
    }
  }
  let userEvents: EventHandlerConfig['userEvents'];
  if (value.userEventPattern !== undefined && value.userEventPattern !== null) {
    if (typeof value.userEventPattern !== 'string') fail(`${where}.userEventPattern must be a string`);
    userEvents = parseUserEventPattern(value.userEventPattern as string, `${where}.userEventPattern`);
  }
  return { urlTemplate, systemEvents, userEvents };
}

const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/** True for a user event name the service accepts (letter first; letters, digits, `_ . -`; ≤ 128). */
export function isValidEventName(name: string): boolean {
  return EVENT_NAME.test(name);
}

/** `*`, a name, or a comma list: the service's documented forms. Other wildcards are refused loudly. */
function parseUserEventPattern(pattern: string, where: string): EventHandlerConfig['userEvents'] {
  const items = pattern
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) return undefined;
  if (items.includes('*')) return 'all';
  for (const item of items) {
    if (!isValidEventName(item)) {
      fail(`${where}: ${JSON.stringify(item)} is neither * nor a valid event name`);
    }
  }
  return new Set(items.map((item) => item.toLowerCase()));
}

/** Validates everything once, before anything listens; every fault is an EmulatorConfigError. */
export function resolveConfig(options: EmulatorOptions = {}): EmulatorConfig {
  if (!isRecord(options)) fail('options must be an object');
  rejectUnknown(options as unknown as Record<string, unknown>, OPTION_NAMES, 'options');

  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('port must be an integer from 0 to 65535');
  const host = options.host ?? DEFAULT_HOST;
  if (typeof host !== 'string' || host.trim() === '') fail('host must be a non-empty string');

  const accessKeys = [options.accessKey ?? DEFAULT_ACCESS_KEY];
  if (options.secondaryAccessKey !== undefined) accessKeys.push(options.secondaryAccessKey);
  accessKeys.forEach((key, index) => {
    const name = index === 0 ? 'accessKey' : 'secondaryAccessKey';
    if (typeof key !== 'string') fail(`${name} must be a string`);
    const problem = accessKeyProblem(key);
    if (problem !== undefined) fail(`${name} ${problem}`);
  });

  const hubs = new Map<string, EventHandlerConfig[]>();
  if (options.hubs !== undefined) {
    if (!isRecord(options.hubs)) fail('hubs must be an object of hub name to settings');
    for (const [name, settings] of Object.entries(options.hubs)) {
      const where = `hubs.${name}`;
      if (name !== '*' && !isValidHubName(name)) fail(`${where}: "${name}" is not a valid hub name`);
      const key = name === '*' ? '*' : normalizeHubName(name);
      if (hubs.has(key)) fail(`${where}: the hub is configured twice (hub names are case-insensitive)`);
      if (!isRecord(settings)) fail(`${where} must be an object`);
      rejectUnknown(settings as Record<string, unknown>, HUB_NAMES, where);
      const handlers = (settings as Record<string, unknown>).eventHandlers;
      if (handlers !== undefined && handlers !== null && !Array.isArray(handlers)) {
        fail(`${where}.eventHandlers must be an array`);
      }
      hubs.set(
        key,
        ((handlers ?? []) as unknown[]).map((handler, index) =>
          checkHandler(handler, `${where}.eventHandlers[${index}]`),
        ),
      );
    }
  }

  const retryDelaysMs = options.retryDelaysMs ?? [1000, 3000, 5000];
  if (
    !Array.isArray(retryDelaysMs) ||
    !retryDelaysMs.every((delay) => Number.isInteger(delay) && delay >= 0)
  ) {
    fail('retryDelaysMs must be an array of non-negative integers');
  }

  const limits = { ...DEFAULT_LIMITS };
  if (options.limits !== undefined) {
    if (!isRecord(options.limits)) fail('limits must be an object');
    rejectUnknown(options.limits as Record<string, unknown>, new Set(Object.keys(DEFAULT_LIMITS)), 'limits');
    for (const [name, value] of Object.entries(options.limits)) {
      limits[name as keyof EmulatorLimits] = positiveInteger(
        value,
        `limits.${name}`,
        DEFAULT_LIMITS[name as keyof EmulatorLimits],
      );
    }
  }

  if (options.log !== undefined && typeof options.log !== 'function') fail('log must be a function');

  return {
    port,
    host,
    accessKeys,
    hubs,
    eventHandlerTimeoutMs: positiveInteger(options.eventHandlerTimeoutMs, 'eventHandlerTimeoutMs', 100_000),
    retryDelaysMs: [...retryDelaysMs],
    validationTimeoutMs: positiveInteger(options.validationTimeoutMs, 'validationTimeoutMs', 10_000),
    reliableRecoveryWindowMs: positiveInteger(
      options.reliableRecoveryWindowMs,
      'reliableRecoveryWindowMs',
      30_000,
    ),
    limits,
    log: options.log ?? (() => {}),
  };
}

/** The handlers of a hub: its own entry, else the `*` entry, else none. */
export function handlersOf(config: EmulatorConfig, hub: string): readonly EventHandlerConfig[] {
  return config.hubs.get(normalizeHubName(hub)) ?? config.hubs.get('*') ?? [];
}
