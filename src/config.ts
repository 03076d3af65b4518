import { ProblemError } from './protocol/errors';
import { isValidHubName } from './protocol/names';
import { compileGroupPattern, GROUP_PERMISSIONS, parseRole, type GroupPermission } from './protocol/roles';

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
  /** Who may negotiate a client access URL, and with which rights (parsed by loadNegotiateConfig). */
  negotiate: NegotiateConfig;
  /** The push and management API for other servers (parsed by loadPushConfig). */
  push: PushConfig;
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
    negotiate: loadNegotiateConfig(env),
    push: loadPushConfig(env),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Negotiate (GET|POST /api/negotiate): how callers are identified and what a client access token may grant.
// ---------------------------------------------------------------------------------------------------------

export type NegotiateIdentityMode = 'bearer' | 'appservice' | 'anonymous';

const IDENTITY_MODES: readonly NegotiateIdentityMode[] = ['bearer', 'appservice', 'anonymous'];

export interface BearerIdentityConfig {
  /**
   * Accepted `iss` values, compared exactly (Entra's v1 issuer ends with a slash, its v2 issuer does not).
   * Empty when unset: negotiate refuses, naming the setting.
   */
  issuers: string[];
  /** Empty when unset: negotiate refuses, naming the setting. */
  audiences: string[];
  /** Undefined: discovered from the first issuer's `/.well-known/openid-configuration`. */
  jwksUri: URL | undefined;
}

export interface NegotiateConfig {
  /** Identity modes in the order they are tried; empty when NegotiateIdentity is unset (negotiate refuses). */
  identity: NegotiateIdentityMode[];
  bearer: BearerIdentityConfig | undefined;
  /** Claim (or dotted path, e.g. `realm_access.roles`) holding the user id, the roles and the groups. */
  userIdClaim: string;
  roleClaim: string;
  groupClaim: string | undefined;
  /** `WEBSITE_AUTH_ENABLED=True`: App Service Authentication runs in front of the app and sets the principal headers. */
  platformAuthEnabled: boolean;
  /** Group patterns (Web PubSub wildcard syntax, `{userId}` placeholder) a caller may ask to join. */
  allowedGroups: string[];
  /** Roles every verified caller gets (`{userId}` placeholder). */
  roles: string[];
  /** Per-group roles given for each granted group. */
  groupPermissions: GroupPermission[];
  /** Whether `webpubsub.joinLeaveGroup` / `webpubsub.sendToGroup` (every group of the hub) may be granted. */
  allowHubWideRoles: boolean;
  tokenLifetimeMinutes: number;
  /** Browser origins allowed to call negotiate (`scheme://host[:port]`), or `['*']` for any (no credentials). */
  corsOrigins: string[];
}

const USER_ID_PLACEHOLDER = '{userId}';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https, or http on loopback only (the local host's development issuer): tokens and keys never cross a network in clear. */
function secureUrl(setting: string, raw: string): URL {
  const url = httpUrl(setting, raw);
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname.toLowerCase())) {
    throw new ConfigError(setting, 'must be an https URL (http is accepted on loopback only)');
  }
  return url;
}

function flag(env: Environment, name: string): boolean {
  const raw = read(env, name);
  if (raw === undefined) return false;
  if (/^true$/i.test(raw)) return true;
  if (/^false$/i.test(raw)) return false;
  throw new ConfigError(name, 'must be true or false');
}

/** A template with `{userId}` put in: the only placeholder, so a typo such as `{user}` is an error, not a literal. */
function checkPlaceholders(setting: string, template: string): void {
  const rest = template.split(USER_ID_PLACEHOLDER).join('');
  if (/[{}]/.test(rest))
    throw new ConfigError(setting, `"${template}" has a placeholder other than {userId}`);
}

function identityModes(env: Environment): NegotiateIdentityMode[] {
  const modes: NegotiateIdentityMode[] = [];
  for (const entry of list(env, 'NegotiateIdentity')) {
    const mode = entry.toLowerCase() as NegotiateIdentityMode;
    if (!IDENTITY_MODES.includes(mode)) {
      throw new ConfigError('NegotiateIdentity', `has "${entry}"; use bearer, appservice and/or anonymous`);
    }
    if (modes.includes(mode)) throw new ConfigError('NegotiateIdentity', `lists ${mode} twice`);
    modes.push(mode);
  }
  // Anonymous accepts every request, so anything after it would never be tried.
  const anonymous = modes.indexOf('anonymous');
  if (anonymous >= 0 && anonymous !== modes.length - 1) {
    throw new ConfigError('NegotiateIdentity', 'must list anonymous last');
  }
  return modes;
}

/**
 * Issuer and audience may be missing here: negotiate then refuses with an error naming them, but the rest of
 * the app keeps working (under `func start` there is no development issuer to fill NegotiateIssuer in).
 */
function bearerIdentity(env: Environment): BearerIdentityConfig {
  const issuers = list(env, 'NegotiateIssuer');
  for (const issuer of issuers) secureUrl('NegotiateIssuer', issuer);
  const audiences = list(env, 'NegotiateAudience');
  const jwks = read(env, 'NegotiateJwksUri');
  return {
    issuers,
    audiences,
    jwksUri: jwks === undefined ? undefined : secureUrl('NegotiateJwksUri', jwks),
  };
}

function groupPermissions(env: Environment): GroupPermission[] {
  const entries = list(env, 'NegotiateGroupPermissions');
  if (entries.length === 0) return [...GROUP_PERMISSIONS];
  if (entries.length === 1 && entries[0]?.toLowerCase() === 'none') return [];
  const permissions: GroupPermission[] = [];
  for (const entry of entries) {
    const permission = GROUP_PERMISSIONS.find((known) => known.toLowerCase() === entry.toLowerCase());
    if (permission === undefined) {
      throw new ConfigError(
        'NegotiateGroupPermissions',
        `has "${entry}"; use joinLeaveGroup, sendToGroup or none`,
      );
    }
    if (!permissions.includes(permission)) permissions.push(permission);
  }
  return permissions;
}

function corsOrigins(env: Environment): string[] {
  const entries = list(env, 'CorsAllowedOrigins');
  if (entries.includes('*')) {
    if (entries.length > 1)
      throw new ConfigError('CorsAllowedOrigins', 'must be * alone or a list of origins');
    return ['*'];
  }
  return entries.map((entry) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(
        'CorsAllowedOrigins',
        `has "${entry}", which is not an origin (scheme://host[:port])`,
      );
    }
    if (url.origin === 'null' || url.pathname !== '/' || url.search !== '' || entry.endsWith('/')) {
      throw new ConfigError(
        'CorsAllowedOrigins',
        `has "${entry}", which is not an origin (scheme://host[:port])`,
      );
    }
    return url.origin;
  });
}

/** The negotiate section; every setting is checked here, so a typo fails at start-up and names the setting. */
export function loadNegotiateConfig(env: Environment): NegotiateConfig {
  const identity = identityModes(env);
  const allowHubWideRoles = flag(env, 'NegotiateAllowHubWideRoles');

  const allowedGroups = list(env, 'NegotiateAllowedGroups');
  for (const pattern of allowedGroups) {
    checkPlaceholders('NegotiateAllowedGroups', pattern);
    if (!compileGroupPattern(pattern.split(USER_ID_PLACEHOLDER).join('u'))) {
      throw new ConfigError('NegotiateAllowedGroups', `"${pattern}" is not a valid group pattern`);
    }
  }
  const roles = list(env, 'NegotiateRoles');
  for (const role of roles) {
    checkPlaceholders('NegotiateRoles', role);
    const parsed = parseRole(role.split(USER_ID_PLACEHOLDER).join('u'));
    if (parsed === undefined) {
      throw new ConfigError('NegotiateRoles', `"${role}" is not a Web PubSub group role`);
    }
    if (parsed.kind === 'hub' && !allowHubWideRoles) {
      throw new ConfigError(
        'NegotiateRoles',
        `"${role}" grants every group of the hub; use a per-group or wildcard role, or set NegotiateAllowHubWideRoles=true`,
      );
    }
  }

  return {
    identity,
    bearer: identity.includes('bearer') ? bearerIdentity(env) : undefined,
    userIdClaim: read(env, 'NegotiateUserIdClaim') ?? 'sub',
    roleClaim: read(env, 'NegotiateRoleClaim') ?? 'roles',
    groupClaim: read(env, 'NegotiateGroupClaim'),
    // The platform sets this; the app itself never should. Without it, principal headers are forgeable.
    platformAuthEnabled: /^true$/i.test(read(env, 'WEBSITE_AUTH_ENABLED') ?? ''),
    allowedGroups,
    roles,
    groupPermissions: groupPermissions(env),
    allowHubWideRoles,
    tokenLifetimeMinutes: positiveInteger(env, 'NegotiateTokenLifetimeMinutes', 60, 24 * 60),
    corsOrigins: corsOrigins(env),
  };
}

// ------------------------------------------- end of negotiate --------------------------------------------

// ---------------------------------------------------------------------------------------------------------
// Push and management API (/api/hubs/...): who may call it, and how long a service call may take.
// ---------------------------------------------------------------------------------------------------------

export interface PushBearerConfig {
  audience: string;
  issuers: string[];
  jwksUri: URL;
}

export interface PushConfig {
  /** When set, every push route needs a bearer token carrying the route's app role, besides the function key. */
  bearer: PushBearerConfig | undefined;
  /** App role that allows sending messages. */
  sendRole: string;
  /** App role that allows group membership, closing connections, permissions, exists checks and listing. */
  manageRole: string;
  /** The claim holding the caller's app roles (Entra: `roles`, an array; a space-separated string also works). */
  roleClaim: string;
  /** Upper bound of one push call's wait for the service, retries and Retry-After waits included. */
  serviceTimeoutMs: number;
}

function appRole(env: Environment, name: string, fallback: string): string {
  const role = read(env, name) ?? fallback;
  if (!/^[^\s,]+$/.test(role)) {
    throw new ConfigError(name, 'must be one app role value, without spaces or commas');
  }
  return role;
}

function boundedInteger(env: Environment, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

/** Signing keys fetched over plain http could be swapped by anyone on the path; loopback is for tests. */
function loopbackOrHttps(setting: string, url: URL): URL {
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname.toLowerCase());
  if (url.protocol !== 'https:' && !loopback) throw new ConfigError(setting, 'must be an https URL');
  return url;
}

function pushBearer(env: Environment): PushBearerConfig | undefined {
  const audience = read(env, 'PushApiAudience');
  const tenant = read(env, 'PushApiTenantId');
  let issuers = list(env, 'PushApiIssuers');
  const jwks = read(env, 'PushApiJwksUri');
  if (!audience) {
    if (tenant || issuers.length > 0 || jwks) {
      throw new ConfigError(
        'PushApiAudience',
        'is required when PushApiTenantId, PushApiIssuers or PushApiJwksUri is set',
      );
    }
    return undefined;
  }
  if (tenant && !/^[0-9a-fA-F-]{36}$|^[A-Za-z0-9.-]+$/.test(tenant)) {
    throw new ConfigError('PushApiTenantId', 'must be a tenant id or domain');
  }
  if (issuers.length === 0 && tenant) {
    // Entra issues v1 or v2 tokens depending on the API's app registration; both name the same tenant.
    issuers = [`https://login.microsoftonline.com/${tenant}/v2.0`, `https://sts.windows.net/${tenant}/`];
  }
  if (issuers.length === 0) {
    throw new ConfigError('PushApiIssuers', 'set it, or PushApiTenantId, with PushApiAudience');
  }
  const jwksUri = jwks
    ? loopbackOrHttps('PushApiJwksUri', httpUrl('PushApiJwksUri', jwks))
    : tenant
      ? new URL(`https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`)
      : undefined;
  if (!jwksUri) throw new ConfigError('PushApiJwksUri', 'set it, or PushApiTenantId, with PushApiIssuers');
  return { audience, issuers, jwksUri };
}

/** The push section; checked at start-up like every other setting. */
export function loadPushConfig(env: Environment): PushConfig {
  const sendRole = appRole(env, 'PushApiSendRole', 'Messages.Send');
  const manageRole = appRole(env, 'PushApiManageRole', 'Groups.Manage');
  const roleClaim = read(env, 'PushApiRoleClaim') ?? 'roles';
  return {
    bearer: pushBearer(env),
    sendRole,
    manageRole,
    roleClaim,
    serviceTimeoutMs: boundedInteger(env, 'PushApiServiceTimeoutMs', 3000, 500, 30_000),
  };
}

// ---------------------------------------------- end of push ----------------------------------------------

let cached: Config | undefined;

/** The process's configuration, read from process.env once. */
export function getConfig(): Config {
  cached ??= loadConfig(process.env);
  return cached;
}
