import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { groupNameProblem, hubNameProblem, MAX_MESSAGE_TTL_SECONDS } from '../../src/protocol/names';
import { bearerToken, restAudienceMatches, type TokenService } from '../auth';
import type { EmulatorConfig } from '../config';
import type { ClientConnection } from '../connection';
import { dataTypeOfMediaType, Delivery, type Payload } from '../messages';
import { compileFilter, FilterSyntaxError, type FilterTarget } from '../odata';
import { parsePermission, type Permission } from '../permissions';
import type { HubState, Registry } from '../registry';
import { badRequest, readBody, RestError, writeEmpty, writeError, writeJson } from './http';

export const API_VERSIONS = ['2021-10-01', '2022-11-01', '2023-07-01', '2024-01-01', '2024-12-01'];
const LATEST_API_VERSION = '2024-12-01';
const MAX_PAGE_SIZE = 200;
const MAX_LITERAL_PERMISSIONS = 1000;

export interface RestApiDeps {
  config: EmulatorConfig;
  registry: Registry;
  tokens: TokenService;
  /** host:port of the emulator's endpoint, as REST tokens name it. */
  authority: () => string;
  /** `http://localhost:<port>`: client tokens minted by :generateToken name it. */
  endpoint: () => string;
}

interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  hub: HubState;
  /** The hub as the path spelled it (tokens minted for it keep that spelling). */
  hubName: string;
  params: readonly string[];
  query: URLSearchParams;
}

type Operation = (request: Request) => Promise<void> | void;

interface Route {
  method: string;
  /** Segments after /api/hubs/{hub}; `{}` captures one segment. */
  pattern: readonly string[];
  operation: Operation;
}

function nonEmpty(value: string, name: string): string {
  if (value.length === 0) throw badRequest(`The ${name} must not be empty.`, name);
  return value;
}

function validGroup(group: string): string {
  const problem = groupNameProblem(group);
  if (problem !== undefined) throw badRequest(`The group name ${problem}.`, 'group');
  return group;
}

function connectionNotFound(connectionId: string): RestError {
  return new RestError(
    404,
    'Error.Connection.NotExisted',
    `Connection \`${connectionId}\` is not found.`,
    'Connection',
  );
}

type Predicate = (connection: FilterTarget) => boolean;

function filterOf(text: string | null | undefined): Predicate | undefined {
  if (text === null || text === undefined || text.trim() === '') return undefined;
  try {
    return compileFilter(text);
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw badRequest(error.message, 'filter');
    throw error;
  }
}

/** What a send needs from the query, checked before the body is read. */
function sendOptions(
  query: URLSearchParams,
  allowExcluded: boolean,
): { excluded: Set<string>; filter: Predicate | undefined } {
  const ttl = query.get('messageTtlSeconds');
  if (ttl !== null) {
    const seconds = Number(ttl);
    if (!/^\d+$/.test(ttl) || seconds > MAX_MESSAGE_TTL_SECONDS) {
      throw badRequest(
        `messageTtlSeconds must be an integer from 0 to ${MAX_MESSAGE_TTL_SECONDS}.`,
        'messageTtlSeconds',
      );
    }
  }
  // Messages are delivered at once, so a valid TTL has nothing left to do (as in Microsoft's emulator).
  return {
    excluded: new Set(allowExcluded ? query.getAll('excluded') : []),
    filter: filterOf(query.get('filter')),
  };
}

/** The message of a send: text/plain, application/json (must parse) or application/octet-stream. */
async function readPayload(req: IncomingMessage, limit: number): Promise<Payload> {
  const contentType = req.headers['content-type'];
  const dataType = dataTypeOfMediaType(contentType);
  if (dataType === undefined) {
    throw new RestError(
      415,
      'Error.UnsupportedMediaType',
      'The Content-Type must be text/plain, application/json or application/octet-stream.',
    );
  }
  const data = await readBody(req, limit);
  if (dataType === 'json') {
    try {
      JSON.parse(data.toString('utf8'));
    } catch {
      throw badRequest('The request body is not a valid JSON.');
    }
  }
  return { dataType, data };
}

function deliverTo(
  connections: Iterable<ClientConnection>,
  delivery: Delivery,
  excluded: ReadonlySet<string>,
  filter: Predicate | undefined,
): void {
  if (excluded.size === 0 && filter === undefined) {
    for (const connection of connections) connection.deliver(delivery);
    return;
  }
  for (const connection of connections) {
    if (excluded.has(connection.connectionId)) continue;
    if (filter !== undefined && !filter(connection)) continue;
    connection.deliver(delivery);
  }
}

function closeMessage(reason: string | null): string {
  return reason === null || reason === ''
    ? 'Application server closed the connection.'
    : `Application server closed the connection. Reason: ${reason}`;
}

/** Closes a snapshot: a connection that replaces one of these (same id, later) is not touched. */
function closeAll(connections: Iterable<ClientConnection>, query: URLSearchParams): void {
  const excluded = new Set(query.getAll('excluded'));
  const message = closeMessage(query.get('reason'));
  for (const connection of [...connections]) {
    if (excluded.has(connection.connectionId)) continue;
    connection.close(1000, '', message, message);
  }
}

function permissionOf(text: string): Permission {
  const permission = parsePermission(text);
  if (permission === undefined)
    throw badRequest('The permission must be sendToGroup or joinLeaveGroup.', 'permission');
  return permission;
}

function targetNameOf(query: URLSearchParams): string | undefined {
  const target = query.get('targetName');
  return target === null ? undefined : validGroup(target);
}

/** `{"groups": [...], "filter": "..."}` of :addToGroups / :removeFromGroups, validated before any change. */
async function groupsBody(
  req: IncomingMessage,
  limit: number,
): Promise<{ groups: string[]; filter: Predicate | undefined }> {
  if (dataTypeOfMediaType(req.headers['content-type']) !== 'json') {
    throw new RestError(415, 'Error.UnsupportedMediaType', 'The Content-Type must be application/json.');
  }
  const data = await readBody(req, limit);
  let body: unknown;
  try {
    body = JSON.parse(data.toString('utf8'));
  } catch {
    throw badRequest('The request body is not a valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object with "groups".');
  }
  const { groups, filter } = body as Record<string, unknown>;
  if (!Array.isArray(groups) || groups.length === 0 || !groups.every((g) => typeof g === 'string')) {
    throw badRequest('"groups" must be a non-empty array of group names.', 'groups');
  }
  for (const group of groups) validGroup(group);
  if (filter !== undefined && filter !== null && typeof filter !== 'string') {
    throw badRequest('"filter" must be a string.', 'filter');
  }
  return { groups, filter: filterOf(filter) };
}

/**
 * The data-plane REST API (api-version 2024-12-01 and the earlier GA versions), with the exact success
 * statuses @azure/web-pubsub expects: 202 sends, 200 puts and bulk group operations, 204 deletes and closes,
 * 200/404 existence checks. Sends to nobody succeed (fire and forget), as the service's do.
 */
export class RestApi {
  readonly #deps: RestApiDeps;
  readonly #routes: Route[];
  /** Protects continuation tokens of member listings: a client cannot forge or move them. */
  readonly #pagingKey = randomBytes(32);

  constructor(deps: RestApiDeps) {
    this.#deps = deps;
    const limit = (): number => deps.config.limits.maxRestBodyBytes;
    const route = (method: string, path: string, operation: Operation): Route => ({
      method,
      pattern: path === '' ? [] : path.split('/'),
      operation,
    });
    this.#routes = [
      route('POST', ':send', async ({ req, res, hub, query }) => {
        const { excluded, filter } = sendOptions(query, true);
        const payload = await readPayload(req, limit());
        deliverTo(hub.connections.values(), new Delivery(payload, { from: 'server' }), excluded, filter);
        writeEmpty(res, 202);
      }),
      route('POST', ':closeConnections', ({ res, hub, query }) => {
        closeAll(hub.connections.values(), query);
        writeEmpty(res, 204);
      }),
      route('POST', ':generateToken', (request) => this.#generateToken(request)),
      route('POST', ':addToGroups', async ({ req, res, hub }) => {
        const { groups, filter } = await groupsBody(req, limit());
        for (const connection of [...hub.connections.values()]) {
          if (filter !== undefined && !filter(connection)) continue;
          for (const group of groups) hub.join(connection, group);
        }
        writeEmpty(res, 200);
      }),
      route('POST', ':removeFromGroups', async ({ req, res, hub }) => {
        const { groups, filter } = await groupsBody(req, limit());
        for (const connection of [...hub.connections.values()]) {
          if (filter !== undefined && !filter(connection)) continue;
          for (const group of groups) hub.leave(connection, group);
        }
        writeEmpty(res, 200);
      }),
      route('POST', 'connections/{}/:send', async ({ req, res, hub, params, query }) => {
        const connectionId = nonEmpty(params[0] as string, 'connectionId');
        sendOptions(query, false);
        const payload = await readPayload(req, limit());
        hub.connections.get(connectionId)?.deliver(new Delivery(payload, { from: 'server' }));
        writeEmpty(res, 202);
      }),
      route('HEAD', 'connections/{}', ({ res, hub, params }) => {
        if (!hub.connections.has(nonEmpty(params[0] as string, 'connectionId'))) {
          throw new RestError(404, 'Warning.Connection.NotExisted', 'The connection does not exist.');
        }
        writeEmpty(res, 200);
      }),
      route('DELETE', 'connections/{}', ({ res, hub, params, query }) => {
        const connection = hub.connections.get(nonEmpty(params[0] as string, 'connectionId'));
        const message = closeMessage(query.get('reason'));
        connection?.close(1000, '', message, message);
        writeEmpty(res, 204);
      }),
      route('DELETE', 'connections/{}/groups', ({ res, hub, params }) => {
        const connection = hub.connections.get(nonEmpty(params[0] as string, 'connectionId'));
        if (connection !== undefined) hub.leaveAll(connection);
        writeEmpty(res, 204);
      }),
      route('HEAD', 'groups/{}', ({ res, hub, params }) => {
        if (hub.members(validGroup(params[0] as string)).size === 0) {
          throw new RestError(404, 'Warning.Group.NotExisted', 'The group does not exist.');
        }
        writeEmpty(res, 200);
      }),
      route('POST', 'groups/{}/:send', async ({ req, res, hub, params, query }) => {
        const group = validGroup(params[0] as string);
        const { excluded, filter } = sendOptions(query, true);
        const payload = await readPayload(req, limit());
        const delivery = new Delivery(payload, { from: 'group', group, fromUserId: undefined });
        deliverTo(hub.members(group), delivery, excluded, filter);
        writeEmpty(res, 202);
      }),
      route('POST', 'groups/{}/:closeConnections', ({ res, hub, params, query }) => {
        closeAll(hub.members(validGroup(params[0] as string)), query);
        writeEmpty(res, 204);
      }),
      route('GET', 'groups/{}/connections', (request) => this.#listMembers(request)),
      route('PUT', 'groups/{}/connections/{}', ({ res, hub, params }) => {
        const group = validGroup(params[0] as string);
        const connectionId = nonEmpty(params[1] as string, 'connectionId');
        const connection = hub.connections.get(connectionId);
        if (connection === undefined) throw connectionNotFound(connectionId);
        hub.join(connection, group);
        writeEmpty(res, 200);
      }),
      route('DELETE', 'groups/{}/connections/{}', ({ res, hub, params }) => {
        const group = validGroup(params[0] as string);
        const connection = hub.connections.get(nonEmpty(params[1] as string, 'connectionId'));
        if (connection !== undefined) hub.leave(connection, group);
        writeEmpty(res, 204);
      }),
      route('PUT', 'permissions/{}/connections/{}', ({ res, hub, params, query }) => {
        const permission = permissionOf(params[0] as string);
        const connectionId = nonEmpty(params[1] as string, 'connectionId');
        const target = targetNameOf(query);
        const connection = hub.connections.get(connectionId);
        if (connection === undefined) throw connectionNotFound(connectionId);
        if (
          target !== undefined &&
          !connection.roles.hasLiteral(permission, target) &&
          connection.roles.literalCount(permission) >= MAX_LITERAL_PERMISSIONS
        ) {
          throw new RestError(
            409,
            'Error.Connection.Conflict',
            `The connection already holds ${MAX_LITERAL_PERMISSIONS} ${permission} permissions.`,
            'Connection',
          );
        }
        connection.roles.grant(permission, target);
        writeEmpty(res, 200);
      }),
      route('DELETE', 'permissions/{}/connections/{}', ({ res, hub, params, query }) => {
        const permission = permissionOf(params[0] as string);
        const connection = hub.connections.get(nonEmpty(params[1] as string, 'connectionId'));
        connection?.roles.revoke(permission, targetNameOf(query));
        writeEmpty(res, 204);
      }),
      route('HEAD', 'permissions/{}/connections/{}', ({ res, hub, params, query }) => {
        const permission = permissionOf(params[0] as string);
        const connectionId = nonEmpty(params[1] as string, 'connectionId');
        const target = targetNameOf(query);
        const connection = hub.connections.get(connectionId);
        if (connection === undefined) throw connectionNotFound(connectionId);
        if (!connection.roles.can(permission, target)) {
          throw new RestError(
            404,
            'Warning.Permission.NotExisted',
            'The connection does not have the permission.',
          );
        }
        writeEmpty(res, 200);
      }),
      route('HEAD', 'users/{}', ({ res, hub, params }) => {
        if (hub.userConnections(nonEmpty(params[0] as string, 'userId')).size === 0) {
          throw new RestError(404, 'Warning.User.NotExisted', 'The user does not exist.');
        }
        writeEmpty(res, 200);
      }),
      route('POST', 'users/{}/:send', async ({ req, res, hub, params, query }) => {
        const userId = nonEmpty(params[0] as string, 'userId');
        const { filter } = sendOptions(query, false);
        const payload = await readPayload(req, limit());
        deliverTo(hub.userConnections(userId), new Delivery(payload, { from: 'server' }), new Set(), filter);
        writeEmpty(res, 202);
      }),
      route('POST', 'users/{}/:closeConnections', ({ res, hub, params, query }) => {
        closeAll(hub.userConnections(nonEmpty(params[0] as string, 'userId')), query);
        writeEmpty(res, 204);
      }),
      route('DELETE', 'users/{}/groups', ({ res, hub, params }) => {
        for (const connection of [...hub.userConnections(nonEmpty(params[0] as string, 'userId'))]) {
          hub.leaveAll(connection);
        }
        writeEmpty(res, 204);
      }),
      route('PUT', 'users/{}/groups/{}', ({ res, hub, params }) => {
        const userId = nonEmpty(params[0] as string, 'userId');
        const group = validGroup(params[1] as string);
        const connections = [...hub.userConnections(userId)];
        // Membership belongs to the user's current connections, as in Microsoft's emulator.
        if (connections.length === 0) {
          throw new RestError(404, 'Error.User.NotExisted', `User \`${userId}\` is not found.`, 'User');
        }
        for (const connection of connections) hub.join(connection, group);
        writeEmpty(res, 200);
      }),
      route('DELETE', 'users/{}/groups/{}', ({ res, hub, params }) => {
        const userId = nonEmpty(params[0] as string, 'userId');
        const group = validGroup(params[1] as string);
        for (const connection of [...hub.userConnections(userId)]) hub.leave(connection, group);
        writeEmpty(res, 204);
      }),
    ];
  }

  /** Handles /api/... requests; false when the path is not the API's. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const target = req.url ?? '/';
    const queryStart = target.indexOf('?');
    const path = queryStart === -1 ? target : target.slice(0, queryStart);
    if (!path.startsWith('/api/')) return false;
    const query = new URLSearchParams(queryStart === -1 ? '' : target.slice(queryStart + 1));
    this.#serve(req, res, path, query).catch((error: unknown) => {
      if (error instanceof RestError) {
        writeError(req, res, error);
        return;
      }
      this.#deps.config.log(
        `rest: ${req.method ?? '?'} ${path} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      writeError(req, res, new RestError(500, 'Error.InternalServerError', 'Internal server error.'));
    });
    return true;
  }

  async #serve(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/api/health' || path === '/api/health/') {
      if (method !== 'HEAD' && method !== 'GET')
        throw new RestError(405, 'Error.MethodNotAllowed', 'Use HEAD or GET.');
      res.setHeader('api-supported-versions', API_VERSIONS.join(', '));
      if (method === 'GET') writeJson(res, 200, { status: 'ok' });
      else writeEmpty(res, 200);
      return;
    }
    const segments = path.split('/');
    // ['', 'api', 'hubs', hub, ...rest]
    if (segments[2] !== 'hubs' || segments.length < 5) throw notFound();
    const rest = segments.slice(4);
    let allowed = false;
    let match: { route: Route; params: string[] } | undefined;
    for (const route of this.#routes) {
      const params = matchRoute(route.pattern, rest);
      if (params === undefined) continue;
      allowed = true;
      if (route.method === method) {
        match = { route, params };
        break;
      }
    }
    if (match === undefined) {
      throw allowed
        ? new RestError(405, 'Error.MethodNotAllowed', `${method} is not allowed here.`)
        : notFound();
    }

    await this.#authenticate(req);
    checkApiVersion(query);
    const hubName = decodeSegment(segments[3] as string, 'hub');
    const problem = hubNameProblem(hubName);
    if (problem !== undefined) throw badRequest(`The hub name ${problem}.`, 'hub');
    await match.route.operation({
      req,
      res,
      hub: this.#deps.registry.hub(hubName),
      hubName,
      params: match.params,
      query,
    });
  }

  async #authenticate(req: IncomingMessage): Promise<void> {
    const token = bearerToken(req.headers.authorization);
    const claims = token === undefined ? undefined : await this.#deps.tokens.verify(token);
    const authorities = [this.#deps.authority(), req.headers.host ?? ''];
    if (claims === undefined || !restAudienceMatches(claims, authorities, req.url ?? '/')) {
      throw new RestError(
        401,
        'Error.Unauthorized',
        'A bearer token signed with an access key, for this request URL, is required.',
      );
    }
  }

  async #generateToken({ res, hubName, query }: Request): Promise<void> {
    const minutes = query.get('minutesToExpire') ?? '60';
    if (!/^\d+$/.test(minutes) || Number(minutes) < 1) {
      throw badRequest('minutesToExpire must be a positive integer.', 'minutesToExpire');
    }
    const clientType = query.get('clientType') ?? 'Default';
    if (clientType.toLowerCase() !== 'default') {
      throw new RestError(
        400,
        'Error.NotSupported',
        `clientType ${clientType} is not supported by the emulator.`,
      );
    }
    const claims: Record<string, unknown> = { aud: `${this.#deps.endpoint()}/client/hubs/${hubName}` };
    const userId = query.get('userId');
    if (userId !== null && userId !== '') claims.sub = userId;
    const roles = query.getAll('role');
    if (roles.length > 0) claims.role = roles;
    const groups = query.getAll('group');
    for (const group of groups) validGroup(group);
    if (groups.length > 0) claims['webpubsub.group'] = groups;
    const token = await this.#deps.tokens.sign(claims, Number(minutes) * 60);
    writeJson(res, 200, { token });
  }

  #listMembers({ res, hub, hubName, params, query }: Request): void {
    const group = validGroup(params[0] as string);
    const pageSize =
      boundedInteger(query.get('maxpagesize'), 'maxpagesize', 1, MAX_PAGE_SIZE) ?? MAX_PAGE_SIZE;
    const top = boundedInteger(query.get('top'), 'top', 1, Number.MAX_SAFE_INTEGER);
    const token = query.get('continuationToken');
    const after = token === null ? undefined : this.#readCursor(token, hub.name, group);
    const members = [...hub.members(group)]
      .map((connection) => connection.connectionId)
      .filter((id) => after === undefined || id > after)
      .sort();
    const take = Math.min(pageSize, top ?? Number.MAX_SAFE_INTEGER);
    const page = members.slice(0, take);
    const value = page.map((connectionId) => {
      const userId = hub.connections.get(connectionId)?.userId;
      return userId === undefined ? { connectionId } : { connectionId, userId };
    });
    const body: { value: unknown[]; nextLink?: string } = { value };
    const remainingTop = top === undefined ? undefined : top - page.length;
    const last = page[page.length - 1];
    if (
      members.length > page.length &&
      last !== undefined &&
      (remainingTop === undefined || remainingTop > 0)
    ) {
      const next = new URLSearchParams({ 'api-version': LATEST_API_VERSION, maxpagesize: String(pageSize) });
      if (remainingTop !== undefined) next.set('top', String(remainingTop));
      next.set('continuationToken', this.#writeCursor(hub.name, group, last));
      body.nextLink =
        `/api/hubs/${encodeURIComponent(hubName)}/groups/${encodeURIComponent(group)}/connections?` +
        next.toString();
    }
    writeJson(res, 200, body);
  }

  #writeCursor(hub: string, group: string, after: string): string {
    const data = Buffer.from(JSON.stringify({ h: hub, g: group, a: after }), 'utf8').toString('base64url');
    return `${data}.${createHmac('sha256', this.#pagingKey).update(data).digest('base64url')}`;
  }

  #readCursor(token: string, hub: string, group: string): string {
    const invalid = badRequest('The continuation token is not valid for this listing.', 'continuationToken');
    const [data = '', mac = '', extra] = token.split('.');
    if (extra !== undefined || token.length > 2048) throw invalid;
    const expected = createHmac('sha256', this.#pagingKey).update(data).digest();
    const presented = Buffer.from(mac, 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw invalid;
    const cursor = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as {
      h: string;
      g: string;
      a: string;
    };
    if (cursor.h !== hub || cursor.g !== group) throw invalid;
    return cursor.a;
  }
}

function notFound(): RestError {
  return new RestError(404, 'Error.NotFound', 'No operation matches this path.');
}

function decodeSegment(segment: string, name: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`The ${name} in the path is not valid percent-encoding.`, name);
  }
}

/** Literal segments compare case-insensitively (`:send` may arrive as `%3Asend`); `{}` captures. */
function matchRoute(pattern: readonly string[], segments: readonly string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    const actual = segments[i] as string;
    if (expected === '{}') {
      params.push(decodeSegment(actual, 'path'));
    } else if (actual.replace(/%3a/gi, ':').toLowerCase() !== expected.toLowerCase()) {
      return undefined;
    }
  }
  return params;
}

function checkApiVersion(query: URLSearchParams): void {
  const versions = query.getAll('api-version');
  if (versions.length === 0) return;
  if (versions.length > 1) throw badRequest('api-version must be given once.', 'api-version');
  if (!API_VERSIONS.includes(versions[0] as string)) {
    throw badRequest(`api-version must be one of ${API_VERSIONS.join(', ')}.`, 'api-version');
  }
}

function boundedInteger(text: string | null, name: string, min: number, max: number): number | undefined {
  if (text === null) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw badRequest(`${name} must be an integer from ${min} to ${max}.`, name);
  }
  return value;
}
