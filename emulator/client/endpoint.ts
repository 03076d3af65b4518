import { randomBytes, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloudEventHeader } from '../../src/protocol/headers';
import { isValidGroupName, isValidHubName, normalizeHubName } from '../../src/protocol/names';
import { bearerToken, clientAudienceMatches, type Claims, type TokenService } from '../auth';
import type { EmulatorConfig } from '../config';
import {
  ClientConnection,
  JSON_SUBPROTOCOL,
  RELIABLE_JSON_SUBPROTOCOL,
  type ClientProtocol,
} from '../connection';
import type { ConnectionManager } from '../lifecycle';
import { RoleSet } from '../permissions';
import type { Registry } from '../registry';
import { CookieJar } from '../upstream/cookies';
import { lastHeader, type EventContext, type EventDispatcher } from '../upstream/dispatcher';
import { handleJsonFrame, type ProtocolContext } from './json-protocol';
import { handleRawFrame } from './raw-protocol';
import { rememberTransport } from './write-batching';

export interface ClientEndpointDeps {
  config: EmulatorConfig;
  registry: Registry;
  tokens: TokenService;
  dispatcher: EventDispatcher;
  manager: ConnectionManager;
  /** host:port of the emulator's endpoint, as client tokens name it. */
  authority: () => string;
}

const NAME_IDENTIFIER = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier';
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const JSON_TYPE = 'application/json; charset=utf-8';

class HandshakeError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function rejectHandshake(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  );
}

/** The hub of `/client/hubs/{hub}` (or `/client/?hub=`), undefined for any other path. */
function hubOfPath(url: URL): string | undefined {
  const match = /^\/client\/hubs\/([^/]+)\/?$/.exec(url.pathname);
  if (match) {
    try {
      return decodeURIComponent(match[1] as string);
    } catch {
      throw new HandshakeError(400, 'The hub name is not valid percent-encoding.');
    }
  }
  if (url.pathname === '/client' || url.pathname === '/client/') {
    return queryParam(url, 'hub') ?? '';
  }
  return undefined;
}

/** The last value of a query parameter, its name compared case-insensitively. */
function queryParam(url: URL, name: string): string | undefined {
  let value: string | undefined;
  for (const [key, entry] of url.searchParams) if (key.toLowerCase() === name) value = entry;
  return value;
}

function offeredSubprotocols(header: string | undefined): string[] {
  if (header === undefined) return [];
  const offered = header.split(',').map((entry) => entry.trim());
  if (offered.some((entry) => !TOKEN_CHARS.test(entry)) || new Set(offered).size !== offered.length) {
    throw new HandshakeError(400, 'Invalid Sec-WebSocket-Protocol header.');
  }
  return offered;
}

function protocolOf(subprotocol: string | undefined): ClientProtocol {
  const lower = subprotocol?.toLowerCase();
  if (lower === JSON_SUBPROTOCOL) return 'json';
  if (lower === RELIABLE_JSON_SUBPROTOCOL) return 'reliable';
  return 'raw';
}

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((entry): entry is string => typeof entry === 'string');
  return [];
}

/** Claims as the connect event carries them: every value a string array. */
function claimsMap(claims: Claims): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (value === null || value === undefined) continue;
    const values = Array.isArray(value) ? (value as unknown[]) : [value];
    map[name] = values.map((entry) => (typeof entry === 'string' ? entry : JSON.stringify(entry)));
  }
  return map;
}

type RawMode = { group: string; noEcho: boolean } | undefined;

/** `webpubsub_mode` (sendEvent | sendToGroup), `group` and `noEcho`; bad values fail the handshake. */
function rawModeOf(url: URL): RawMode {
  const mode = queryParam(url, 'webpubsub_mode');
  if (mode === undefined || mode.toLowerCase() === 'sendevent') return undefined;
  if (mode.toLowerCase() !== 'sendtogroup') {
    throw new HandshakeError(400, 'webpubsub_mode must be sendEvent or sendToGroup.');
  }
  const groups = [...url.searchParams].filter(([key]) => key.toLowerCase() === 'group');
  const group = groups[0]?.[1];
  if (groups.length !== 1 || group === undefined || !isValidGroupName(group)) {
    throw new HandshakeError(400, 'webpubsub_mode=sendToGroup needs exactly one valid group.');
  }
  const noEcho = queryParam(url, 'noecho')?.toLowerCase();
  if (noEcho !== undefined && noEcho !== 'true' && noEcho !== 'false') {
    throw new HandshakeError(400, 'noEcho must be true or false.');
  }
  return { group, noEcho: noEcho === 'true' };
}

interface ConnectDecision {
  userId: string | undefined;
  groups: string[];
  roles: string[];
  subprotocol: string | undefined;
}

/**
 * A 2xx connect answer, parsed whatever its Content-Type says: empty or `null` keeps the token's values;
 * `userId` overrides (even ""); `roles` replace (even []); non-empty `groups` replace; `subprotocol` must
 * be one the client offered. Property names are case-insensitive. Anything else is a handler fault (500).
 */
function applyConnectAnswer(body: Buffer, decision: ConnectDecision, offered: readonly string[]): void {
  const text = body.toString('utf8').trim();
  if (text === '') return;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HandshakeError(500, 'The connect handler answered with a body that is not JSON.');
  }
  if (json === null) return;
  if (typeof json !== 'object' || Array.isArray(json)) {
    throw new HandshakeError(500, 'The connect handler answered with JSON that is not an object.');
  }
  const fields = new Map(Object.entries(json).map(([key, value]) => [key.toLowerCase(), value as unknown]));
  const userId = fields.get('userid');
  if (userId !== undefined && userId !== null) {
    if (typeof userId !== 'string')
      throw new HandshakeError(500, 'The connect answer has a non-string userId.');
    decision.userId = userId;
  }
  const groups = fields.get('groups');
  if (groups !== undefined && groups !== null) {
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string' && isValidGroupName(g))) {
      throw new HandshakeError(500, 'The connect answer has an invalid group.');
    }
    if (groups.length > 0) decision.groups = groups as string[];
  }
  const roles = fields.get('roles');
  if (roles !== undefined && roles !== null) {
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string' && r.trim() !== '')) {
      throw new HandshakeError(500, 'The connect answer has an invalid role.');
    }
    decision.roles = roles as string[];
  }
  const subprotocol = fields.get('subprotocol');
  if (subprotocol !== undefined && subprotocol !== null) {
    const chosen =
      typeof subprotocol === 'string'
        ? (offered.find((entry) => entry === subprotocol) ??
          offered.find((entry) => entry.toLowerCase() === subprotocol.toLowerCase()))
        : undefined;
    if (chosen === undefined) {
      throw new HandshakeError(500, 'The connect answer chose a subprotocol the client did not offer.');
    }
    decision.subprotocol = chosen;
  }
}

/**
 * `/client/hubs/{hub}`: authenticates in the `upgrade` event and answers failures with a plain HTTP status
 * before any WebSocket exists; runs the blocking `connect` event; then hands the socket to `ws`. Reliable
 * recoveries (`awps_connection_id` + `awps_reconnection_token`) reattach a detached connection.
 */
export class ClientEndpoint {
  readonly #deps: ClientEndpointDeps;
  readonly #wss: WebSocketServer;
  readonly #protocolContext: ProtocolContext;
  /** The subprotocol to answer, decided before ws completes the handshake. */
  readonly #chosen = new WeakMap<IncomingMessage, string | false>();
  readonly #handshaking = new Set<Duplex>();
  readonly #sockets = new Set<WebSocket>();
  #closing = false;

  constructor(deps: ClientEndpointDeps) {
    this.#deps = deps;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: deps.config.limits.maxClientMessageBytes,
      handleProtocols: (_offered, req) => this.#chosen.get(req) ?? false,
    });
    this.#protocolContext = {
      registry: deps.registry,
      dispatcher: deps.dispatcher,
      log: deps.config.log,
    };
  }

  /** For the http server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    this.#handshaking.add(socket);
    socket.once('close', () => this.#handshaking.delete(socket));
    this.#upgrade(req, socket, head).then(
      () => this.#handshaking.delete(socket),
      (error: unknown) => {
        this.#handshaking.delete(socket);
        if (error instanceof HandshakeError) {
          rejectHandshake(socket, error.status, error.message);
          return;
        }
        this.#deps.config.log(
          `client: handshake failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        rejectHandshake(socket, 500, 'Internal server error');
      },
    );
  }

  /** Refuses new handshakes and cuts the ones in progress. */
  close(): void {
    this.#closing = true;
    for (const socket of this.#handshaking) socket.destroy();
    this.#wss.close();
  }

  /** Waits up to `graceMs` for open sockets to finish their close handshake, then cuts the rest. */
  async drain(graceMs: number): Promise<void> {
    if (this.#sockets.size === 0) return;
    const closed = [...this.#sockets].map((ws) => new Promise((resolve) => ws.once('close', resolve)));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(closed), deadline]);
    clearTimeout(timer);
    for (const ws of this.#sockets) ws.terminate();
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const hubName = hubOfPath(url);
    if (hubName === undefined) throw new HandshakeError(404, 'Not found.');
    if (!isValidHubName(hubName)) throw new HandshakeError(400, 'The hub name is not valid.');
    if (
      req.method !== 'GET' ||
      req.headers.upgrade?.toLowerCase() !== 'websocket' ||
      req.headers['sec-websocket-key'] === undefined
    ) {
      throw new HandshakeError(400, 'This endpoint accepts WebSocket upgrades only.');
    }
    const offered = offeredSubprotocols(req.headers['sec-websocket-protocol']);
    const hub = normalizeHubName(hubName);

    const recoveryId = queryParam(url, 'awps_connection_id');
    if (recoveryId !== undefined) {
      this.#recover(req, socket, head, url, hub, recoveryId, offered);
      return;
    }

    const token = queryParam(url, 'access_token') ?? bearerToken(req.headers.authorization);
    if (token === undefined) throw new HandshakeError(401, 'An access token is required.');
    const claims = await this.#deps.tokens.verify(token);
    const authorities = [this.#deps.authority(), req.headers.host ?? ''];
    if (claims === undefined || !clientAudienceMatches(claims, authorities, hubName)) {
      throw new HandshakeError(401, 'The access token is not valid for this hub.');
    }
    const rawMode = rawModeOf(url);

    const subject = typeof claims.sub === 'string' ? claims.sub : claims[NAME_IDENTIFIER];
    const decision: ConnectDecision = {
      userId: typeof subject === 'string' ? subject : undefined,
      groups: stringsOf(claims['webpubsub.group']).filter(isValidGroupName),
      roles: stringsOf(claims.role),
      // Without a handler's choice, the first Web PubSub subprotocol the client offered.
      subprotocol: offered.find((entry) => protocolOf(entry) !== 'raw'),
    };
    const connectionId = randomBytes(15).toString('base64url');
    const cookies = new CookieJar();
    const context: { -readonly [K in keyof EventContext]: EventContext[K] } = {
      hub,
      connectionId,
      userId: decision.userId,
      subprotocol: undefined,
      state: undefined,
      cookies,
    };

    let accepted = false;
    if (this.#deps.dispatcher.handlerFor(hub, 'connect', 'connect') !== undefined) {
      const outcome = await this.#deps.dispatcher.dispatch({
        type: 'connect',
        eventName: 'connect',
        id: 0,
        context,
        contentType: JSON_TYPE,
        body: Buffer.from(JSON.stringify(this.#connectBody(req, url, claims, offered))),
      });
      if (outcome.kind === 'failed') {
        this.#deps.config.log(`client: connect of ${connectionId} failed: ${outcome.reason}`);
        throw new HandshakeError(500, 'The connect event failed.');
      }
      if (outcome.kind === 'answered') {
        const { status, body, headers } = outcome.response;
        // The handler's 4xx is the client's answer; its body is not passed on.
        if (status >= 400 && status <= 499)
          throw new HandshakeError(status, STATUS_CODES[status] ?? 'Rejected');
        if (status < 200 || status > 299) {
          this.#deps.config.log(`client: connect of ${connectionId} answered ${status}`);
          throw new HandshakeError(500, 'The connect event failed.');
        }
        applyConnectAnswer(body, decision, offered);
        context.state = lastHeader(outcome.response, CloudEventHeader.connectionState);
        cookies.store(headers['set-cookie']);
        accepted = true;
      }
    }

    context.userId = decision.userId;
    context.subprotocol = decision.subprotocol;
    const protocol = protocolOf(decision.subprotocol);
    const ws = this.#completeUpgrade(req, socket, head, decision.subprotocol ?? false);
    if (ws === undefined) {
      if (accepted) {
        this.#deps.manager.endedBeforeOpen(context, 1, 'The client left before the handshake completed.');
      }
      return;
    }
    const connection = new ClientConnection(
      {
        connectionId,
        hub,
        userId: decision.userId,
        roles: new RoleSet(decision.roles),
        protocol,
        subprotocol: decision.subprotocol,
        state: context.state,
        cookies,
        rawSendToGroup: protocol === 'raw' ? rawMode : undefined,
        reconnectionToken: protocol === 'reliable' ? randomBytes(32).toString('base64url') : undefined,
        nextEventId: 1,
      },
      this.#deps.manager,
    );
    for (const group of decision.groups) connection.groups.add(group);
    this.#deps.manager.register(connection);
    connection.attach(ws);
    this.#wire(ws, connection);
    connection.greet();
    this.#deps.manager.notifyConnected(connection);
  }

  #recover(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    url: URL,
    hub: string,
    connectionId: string,
    offered: readonly string[],
  ): void {
    const token = queryParam(url, 'awps_reconnection_token');
    const connection = this.#deps.registry.hub(hub).connections.get(connectionId);
    let failure: string | undefined;
    if (token === undefined || token === '') failure = 'A reconnection token is required.';
    else if (connection?.protocol !== 'reliable' || connection.reconnectionToken === undefined) {
      failure = 'The connection cannot be recovered.';
    } else if (!sameSecret(token, connection.reconnectionToken))
      failure = 'The reconnection token is invalid.';
    // The client must see a completed handshake to read the 1008 that tells it to start afresh; the
    // recovered connection keeps its reliable protocol whatever this socket negotiates.
    const answer =
      offered.find((entry) => protocolOf(entry) === 'reliable') ??
      offered.find((entry) => protocolOf(entry) !== 'raw') ??
      offered[0];
    const ws = this.#completeUpgrade(req, socket, head, answer ?? false);
    if (ws === undefined) return;
    if (failure !== undefined || connection === undefined) {
      ws.on('error', () => {});
      ws.close(1008, failure ?? 'The connection cannot be recovered.');
      return;
    }
    connection.attach(ws);
    this.#wire(ws, connection);
    connection.greet();
  }

  #completeUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    subprotocol: string | false,
  ): WebSocket | undefined {
    if (this.#closing || socket.destroyed) return undefined;
    let upgraded: WebSocket | undefined;
    this.#chosen.set(req, subprotocol);
    // With permessage-deflate off, ws completes the handshake synchronously.
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = ws;
      rememberTransport(ws, socket);
      this.#sockets.add(ws);
      ws.once('close', () => this.#sockets.delete(ws));
    });
    this.#chosen.delete(req);
    return upgraded;
  }

  #wire(ws: WebSocket, connection: ClientConnection): void {
    const context = this.#protocolContext;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (connection.socket !== ws || connection.status !== 'open') return;
      if (connection.isJson) handleJsonFrame(context, connection, data);
      else handleRawFrame(context, connection, data, isBinary);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      connection.socketClosed(ws, code, reason.toString('utf8'));
    });
    // ws reports protocol violations (oversized or invalid frames) here and closes the socket itself.
    ws.on('error', (error: Error) => {
      if (connection.socket === ws) connection.end(`The connection failed: ${error.message}.`);
    });
  }

  #connectBody(req: IncomingMessage, url: URL, claims: Claims, offered: readonly string[]): unknown {
    const query: Record<string, string[]> = {};
    for (const [name, value] of url.searchParams) {
      // The access token is a credential: the application gets its claims, never the token.
      if (name.toLowerCase() === 'access_token') continue;
      (query[name] ??= []).push(value);
    }
    const headers: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      if (name === 'authorization' || name.startsWith('x-asrs-internal-') || values === undefined) continue;
      headers[name] = values;
    }
    return {
      claims: claimsMap(claims),
      query,
      headers,
      subprotocols: offered,
      clientCertificates: [],
    };
  }
}

function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
