import { ProblemError } from './protocol/errors';
import { isValidHubName } from './protocol/names';

/**
 * The only reader of process.env. Settings are validated once, on first use, and every error names the
 * setting that is wrong (never its value: some of them are secrets).
 */
export class ConfigError extends ProblemError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(500, 'misconfigured', 'Server misconfigured', `Setting ${setting} ${message}.`);
    this.name = 'ConfigError';
  }
}

export type ServiceConfig =
  | { mode: 'key'; endpoint: URL; accessKey: string }
  | { mode: 'keyless'; endpoint: URL; managedIdentityClientId: string | undefined };

export interface EventHandlerIdentityConfig {
  audience: string;
  issuers: string[];
  jwksUri: URL;
}

export interface Config {
  service: ServiceConfig;
  defaultHub: string;
  hubs: string[];
  /** Every access key a `ce-signature` may be computed with: the connection string's, then the extras. */
  signatureKeys: string[];
  /** Hosts allowed in WebHook-Request-Origin: the service endpoint's, plus the extra setting (`*` = any). */
  webhookOrigins: string[];
  eventHandlerIdentity: EventHandlerIdentityConfig | undefined;
  maxEventBytes: number;
  maxStateBytes: number;
}

export type Environment = Readonly<Record<string, string | undefined>>;

function read(env: Environment, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function list(env: Environment, name: string): string[] {
  return (read(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function positiveInteger(env: Environment, name: string, fallback: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from 1 to ${max}`);
  }
  return Number(raw);
}

function httpUrl(setting: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(setting, 'is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(setting, 'must be an http(s) URL');
  }
  return url;
}

/**
 * `Endpoint=...;AccessKey=...;[Port=...;]Version=1.0;` parsed as @azure/web-pubsub parses it: keys are
 * case-insensitive, a value may contain `=`, an endpoint without scheme is https.
 */
export function parseConnectionString(connectionString: string): { endpoint: URL; accessKey: string } {
  const setting = 'WebPubSubConnectionString';
  const parts = new Map<string, string>();
  for (const segment of connectionString.split(';')) {
    const separator = segment.indexOf('=');
    if (separator <= 0) continue;
    parts.set(segment.slice(0, separator).trim().toLowerCase(), segment.slice(separator + 1).trim());
  }
  const rawEndpoint = parts.get('endpoint');
  const accessKey = parts.get('accesskey');
  if (!rawEndpoint) throw new ConfigError(setting, 'has no Endpoint');
  if (!accessKey) throw new ConfigError(setting, 'has no AccessKey');
  const endpoint = httpUrl(setting, rawEndpoint.startsWith('http') ? rawEndpoint : `https://${rawEndpoint}`);
  const port = parts.get('port');
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
      throw new ConfigError(setting, 'has an invalid Port');
    endpoint.port = port;
  }
  return { endpoint, accessKey };
}

function serviceConfig(env: Environment): ServiceConfig {
  const connectionString = read(env, 'WebPubSubConnectionString');
  const endpoint = read(env, 'WebPubSubEndpoint');
  if (connectionString && endpoint) {
    throw new ConfigError(
      'WebPubSubConnectionString',
      'set either WebPubSubConnectionString (key mode) or WebPubSubEndpoint (keyless mode), not both',
    );
  }
  if (connectionString) return { mode: 'key', ...parseConnectionString(connectionString) };
  if (endpoint) {
    return {
      mode: 'keyless',
      endpoint: httpUrl('WebPubSubEndpoint', endpoint),
      managedIdentityClientId: read(env, 'AZURE_CLIENT_ID'),
    };
  }
  throw new ConfigError(
    'WebPubSubConnectionString',
    'set WebPubSubConnectionString (key mode) or WebPubSubEndpoint (keyless mode, managed identity)',
  );
}

function eventHandlerIdentity(env: Environment): EventHandlerIdentityConfig | undefined {
  const audience = read(env, 'WebPubSubEventHandlerAudience');
  const tenant = read(env, 'WebPubSubEventHandlerTenantId');
  let issuers = list(env, 'WebPubSubEventHandlerIssuers');
  const jwks = read(env, 'WebPubSubEventHandlerJwksUri');
  if (!audience) {
    if (tenant || issuers.length > 0 || jwks) {
      throw new ConfigError(
        'WebPubSubEventHandlerAudience',
        'is required when the event handler identity is configured',
      );
    }
    return undefined;
  }
  if (tenant && !/^[0-9a-fA-F-]{36}$|^[A-Za-z0-9.-]+$/.test(tenant)) {
    throw new ConfigError('WebPubSubEventHandlerTenantId', 'must be a tenant id or domain');
  }
  if (issuers.length === 0 && tenant) {
    // Entra issues v1 or v2 tokens depending on the app registration; both name the same tenant.
    issuers = [`https://login.microsoftonline.com/${tenant}/v2.0`, `https://sts.windows.net/${tenant}/`];
  }
  if (issuers.length === 0) {
    throw new ConfigError(
      'WebPubSubEventHandlerIssuers',
      'set it, or WebPubSubEventHandlerTenantId, with the audience',
    );
  }
  const jwksUri = jwks
    ? httpUrl('WebPubSubEventHandlerJwksUri', jwks)
    : tenant
      ? new URL(`https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`)
      : undefined;
  if (!jwksUri) {
    throw new ConfigError('WebPubSubEventHandlerJwksUri', 'set it, or WebPubSubEventHandlerTenantId');
  }
  return { audience, issuers, jwksUri };
}

export function loadConfig(env: Environment): Config {
  const service = serviceConfig(env);
  const defaultHub = read(env, 'WebPubSubHub') ?? 'chat';
  if (!isValidHubName(defaultHub)) throw new ConfigError('WebPubSubHub', 'is not a valid hub name');
  const extraHubs = list(env, 'WebPubSubHubs');
  for (const hub of extraHubs) {
    if (!isValidHubName(hub)) throw new ConfigError('WebPubSubHubs', `"${hub}" is not a valid hub name`);
  }
  // The default hub is always served; hubs compare without case, so `a,A` is one hub.
  const hubs: string[] = [];
  for (const hub of [defaultHub, ...extraHubs]) {
    if (!hubs.some((known) => known.toLowerCase() === hub.toLowerCase())) hubs.push(hub);
  }

  const signatureKeys = [
    ...(service.mode === 'key' ? [service.accessKey] : []),
    ...list(env, 'WebPubSubAccessKeys'),
  ];
  const webhookOrigins = [service.endpoint.hostname, ...list(env, 'WebPubSubAllowedOrigins')];

  return {
    service,
    defaultHub,
    hubs,
    signatureKeys,
    webhookOrigins,
    eventHandlerIdentity: eventHandlerIdentity(env),
    maxEventBytes: positiveInteger(env, 'WebPubSubMaxEventBytes', 1024 * 1024, 16 * 1024 * 1024),
    maxStateBytes: positiveInteger(env, 'WebPubSubMaxStateBytes', 4096, 64 * 1024),
  };
}

let cached: Config | undefined;

/** The process's configuration, read from process.env once. */
export function getConfig(): Config {
  cached ??= loadConfig(process.env);
  return cached;
}
