import { ConnectionState, decodeConnectionState, encodeConnectionState } from '../protocol/connection-state';
import { forbidden, missingHeader, notFound, ProblemError, unsupportedMediaType } from '../protocol/errors';
import {
  CONTENT_TYPE_OF,
  connectResponseBody,
  dataTypeOfContentType,
  decodeUtf8,
  disconnectReason,
  parseConnectBody,
  parseEventHeaders,
  parseJson,
  parseSystemEventBody,
  mqttConnectFailureBody,
  type EventHeaders,
} from '../protocol/events';
import { CloudEventHeader } from '../protocol/headers';
import { normalizeHubName } from '../protocol/names';
import type { OriginPolicy } from '../protocol/origins';
import { describeError, problemResponse } from '../http/problem';
import type { CoreRequest, CoreResponse, Logger } from '../http/types';
import type { EventAuthenticator } from './authentication';
import { ConnectRejection, type EventContext, type EventData, type WebhookHooks } from './hooks';

export interface WebhookOptions {
  /** Hubs this webhook serves (compared case-insensitively). */
  hubs: readonly string[];
  origins: OriginPolicy;
  /** Every authenticator must pass. At least one: an unauthenticated webhook is a configuration error. */
  authenticators: readonly EventAuthenticator[];
  hooks: WebhookHooks;
  maxBodyBytes: number;
  maxStateBytes: number;
}

export type WebhookHandler = (request: CoreRequest, log: Logger) => Promise<CoreResponse>;

const STATE_HEADER = 'ce-connectionState';
const ALLOW = 'OPTIONS, POST';

/**
 * The Web PubSub CloudEvents event handler, independent of any host. A request is classified and
 * authenticated from its headers before its body is read; a request refused there never reaches a hook.
 */
export function createWebhook(options: WebhookOptions): WebhookHandler {
  if (options.authenticators.length === 0) {
    throw new Error(
      'The webhook needs at least one authenticator; refusing to accept unauthenticated events',
    );
  }
  const hubs = new Set(options.hubs.map(normalizeHubName));
  const { hooks, maxBodyBytes, maxStateBytes } = options;

  function abuseProtection(request: CoreRequest): CoreResponse {
    const requested = request.headers.get(CloudEventHeader.requestOrigin);
    if (requested === null || requested.trim() === '') throw missingHeader(CloudEventHeader.requestOrigin);
    const allowed = options.origins.match(requested);
    if (allowed === undefined) {
      throw forbidden(
        'origin-not-allowed',
        `WebHook-Request-Origin "${requested}" is not an allowed origin.`,
      );
    }
    return { status: 200, headers: { [CloudEventHeader.allowedOrigin]: allowed } };
  }

  async function dispatch(request: CoreRequest, log: Logger): Promise<CoreResponse> {
    const event = parseEventHeaders(request.headers);
    if (options.origins.match(event.origin) === undefined) {
      throw forbidden(
        'origin-not-allowed',
        `WebHook-Request-Origin "${event.origin}" is not an allowed origin.`,
      );
    }
    for (const authenticator of options.authenticators) {
      // The signature check is synchronous; awaiting only a real promise spares a microtask turn per event.
      const pending = authenticator.authenticate(request, event);
      if (pending !== undefined) await pending;
    }
    if (!hubs.has(normalizeHubName(event.hub))) {
      throw notFound('unknown-hub', `This webhook does not serve hub "${event.hub}".`);
    }
    const state = new ConnectionState(decodeConnectionState(event.connectionState, maxStateBytes));
    const context: EventContext = {
      hub: event.hub,
      connectionId: event.connectionId,
      userId: event.userId,
      eventName: event.type.eventName,
      eventId: event.id,
      subprotocol: event.subprotocol,
      origin: event.origin,
      clientProtocol: event.clientProtocol,
      mqtt: event.mqtt,
      state,
      log: new CorrelatedLogger(log, event),
    };
    const contentType = request.headers.get(CloudEventHeader.contentType);

    switch (event.type.kind) {
      case 'connect': {
        requireJsonIfTyped(contentType);
        const body = parseConnectBody(await request.readBody(maxBodyBytes));
        let outcome = runHook('connect', log, event, () => hooks.connect?.({ ...body, context }));
        if (outcome instanceof Promise) outcome = await outcome;
        if (outcome instanceof ConnectRejection) {
          log.warn('connect rejected by the application', { ...fieldsOf(event), status: outcome.status });
          if (body.mqtt) {
            return {
              status: outcome.status,
              headers: { 'content-type': CONTENT_TYPE_OF.json },
              body: mqttConnectFailureBody(outcome.status, body.mqtt.protocolVersion, outcome.reason),
            };
          }
          return problemResponse(
            new ProblemError(outcome.status, 'connect-rejected', 'Connection rejected', outcome.reason),
          );
        }
        const stateHeaders = stateHeaderIfChanged(state, event, log);
        if (outcome === undefined) return { status: 204, headers: stateHeaders };
        let json: string;
        try {
          json = connectResponseBody(outcome, body.subprotocols);
        } catch (error) {
          throw hookFault('connect', error, event, log);
        }
        return {
          status: 200,
          headers: { ...stateHeaders, 'content-type': CONTENT_TYPE_OF.json },
          body: json,
        };
      }

      case 'user': {
        const dataType = dataTypeOfContentType(contentType);
        const raw = await request.readBody(maxBodyBytes);
        const data: EventData =
          dataType === 'text'
            ? { dataType, data: decodeUtf8(raw, 'user event body') }
            : dataType === 'json'
              ? { dataType, data: parseJson(raw, 'user event body') }
              : { dataType, data: raw };
        let reply = runHook('userEvent', log, event, () => hooks.userEvent?.({ ...data, context }));
        if (reply instanceof Promise) reply = await reply;
        const stateHeaders = stateHeaderIfChanged(state, event, log);
        if (reply === undefined) return { status: 204, headers: stateHeaders };
        let encoded: string | Uint8Array;
        try {
          encoded = encodeReply(reply);
        } catch (error) {
          throw hookFault('userEvent', error, event, log);
        }
        return {
          status: 200,
          headers: { ...stateHeaders, 'content-type': CONTENT_TYPE_OF[reply.dataType] },
          body: encoded,
        };
      }

      case 'connected': {
        requireJsonIfTyped(contentType);
        parseSystemEventBody(await request.readBody(maxBodyBytes), 'connected');
        await notify('connected', log, event, () => hooks.connected?.(context));
        warnIfStateChanged(state, event, log);
        return { status: 204 };
      }

      case 'disconnected': {
        requireJsonIfTyped(contentType);
        const reason = disconnectReason(
          parseSystemEventBody(await request.readBody(maxBodyBytes), 'disconnected'),
        );
        await notify('disconnected', log, event, () => hooks.disconnected?.(context, reason));
        warnIfStateChanged(state, event, log);
        return { status: 204 };
      }
    }
  }

  function stateHeaderIfChanged(
    state: ConnectionState,
    event: EventHeaders,
    log: Logger,
  ): Record<string, string> | undefined {
    if (!state.changed) return undefined;
    const encoded = encodeConnectionState(state.toJSON());
    if (encoded.length > maxStateBytes) {
      throw hookFault(
        'state',
        new Error(`connection state encodes to ${encoded.length} bytes, over the limit of ${maxStateBytes}`),
        event,
        log,
      );
    }
    return { [STATE_HEADER]: encoded };
  }

  return async function handleWebhook(request, log) {
    try {
      if (request.method === 'OPTIONS') return abuseProtection(request);
      if (request.method !== 'POST') {
        throw new ProblemError(405, 'method-not-allowed', 'Method not allowed', `Use ${ALLOW}.`, {
          allow: ALLOW,
        });
      }
      return await dispatch(request, log);
    } catch (error) {
      if (error instanceof ProblemError && error.status < 500) {
        log.warn('webhook request refused', {
          status: error.status,
          code: error.code,
          ceId: idOf(request),
          connectionId: bounded(request.headers.get(CloudEventHeader.connectionId)),
        });
      }
      return problemResponse(error, log, { ceId: idOf(request) });
    }
  };
}

function requireJsonIfTyped(contentType: string | null): void {
  if (contentType === null || contentType.trim() === '') return;
  const end = contentType.indexOf(';');
  const media = (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  if (media !== 'application/json') {
    throw unsupportedMediaType(`System events carry application/json, not "${media}".`);
  }
}

function encodeReply(reply: EventData): string | Uint8Array {
  switch (reply.dataType) {
    case 'text':
      if (typeof reply.data !== 'string') throw new Error('a text reply needs string data');
      return reply.data;
    case 'binary':
      if (!(reply.data instanceof Uint8Array)) throw new Error('a binary reply needs Uint8Array data');
      return reply.data;
    case 'json': {
      // undefined, functions and symbols serialise to nothing at all, which is no reply.
      const json = JSON.stringify(reply.data) as string | undefined;
      if (json === undefined) throw new Error('a json reply needs JSON-serialisable data');
      return json;
    }
  }
}

function fieldsOf(event: EventHeaders): Record<string, unknown> {
  return { ceId: event.id, hub: event.hub, connectionId: event.connectionId, event: event.type.eventName };
}

function idOf(request: CoreRequest): string | null {
  return bounded(request.headers.get(CloudEventHeader.id));
}

/** Header values of a refused request are the sender's words: logged, but never more than a line's worth. */
function bounded(value: string | null): string | null {
  return value !== null && value.length > 128 ? `${value.slice(0, 128)}…` : value;
}

/**
 * The logger a hook gets: every line carries the event's ce-id and connection id, so the application's own
 * lines join ours (and the service's) without each hook repeating them. The hook's fields win on a clash.
 * A class, not closures: it is built for every event on the hot path, and most hooks never log.
 */
class CorrelatedLogger implements Logger {
  constructor(
    private readonly log: Logger,
    private readonly event: EventHeaders,
  ) {}

  info(message: string, fields?: Record<string, unknown>): void {
    this.log.info(message, this.with(fields));
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.log.warn(message, this.with(fields));
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.log.error(message, this.with(fields));
  }

  private with(fields: Record<string, unknown> | undefined): Record<string, unknown> {
    return { ceId: this.event.id, connectionId: this.event.connectionId, ...fields };
  }
}

function hookFault(hook: string, error: unknown, event: EventHeaders, log: Logger): ProblemError {
  log.error(`the ${hook} hook failed`, { ...fieldsOf(event), error: describeError(error) });
  return new ProblemError(
    500,
    'hook-failed',
    'Internal server error',
    `The application could not handle the ${event.type.eventName} event.`,
  );
}

/**
 * Runs a blocking hook; a throw is the application's fault (500), with the details kept in the log. A hook
 * that answers synchronously is not wrapped in a promise: this is on every event's path.
 */
function runHook<T>(
  hook: string,
  log: Logger,
  event: EventHeaders,
  run: () => T | Promise<T>,
): T | Promise<T> {
  const fault = (error: unknown): never => {
    if (error instanceof ProblemError && error.status < 500) throw error;
    throw hookFault(hook, error, event, log);
  };
  let result: T | Promise<T>;
  try {
    result = run();
  } catch (error) {
    return fault(error);
  }
  return result instanceof Promise ? result.catch(fault) : result;
}

/**
 * connected and disconnected are notifications: the service ignores our answer, so a failing hook is
 * logged with the event's identity and acknowledged. It is awaited so the work finishes inside the
 * invocation (a host may freeze the instance once the response is sent).
 */
async function notify(
  hook: string,
  log: Logger,
  event: EventHeaders,
  run: () => void | Promise<void>,
): Promise<void> {
  try {
    await run();
  } catch (error) {
    log.error(`the ${hook} hook failed`, { ...fieldsOf(event), error: describeError(error) });
  }
}

function warnIfStateChanged(state: ConnectionState, event: EventHeaders, log: Logger): void {
  if (state.changed) {
    log.warn('connection state set in a notification is ignored by the service', fieldsOf(event));
  }
}
