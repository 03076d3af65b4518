import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { CloudEventHeader } from '../../src/protocol/headers';
import { signatureHeaderValue } from '../../src/protocol/signature';
import { handlersOf, type EmulatorConfig, type EventHandlerConfig, type SystemEvent } from '../config';
import type { CookieJar } from './cookies';
import { HttpExchangeError, type HttpClient, type HttpResult } from './http-client';

/** What the upstream request says about the connection (headers of every event). */
export interface EventContext {
  /** Canonical (lower-case) hub name. */
  readonly hub: string;
  readonly connectionId: string;
  readonly userId: string | undefined;
  readonly subprotocol: string | undefined;
  readonly state: string | undefined;
  readonly cookies: CookieJar;
}

export type EventType = SystemEvent | 'user';

export interface UpstreamEvent {
  type: EventType;
  /** The user event's name; for system events the event itself. */
  eventName: string;
  /** ce-id: per connection, connect = 0. */
  id: number;
  context: EventContext;
  contentType: string;
  body: Buffer;
  /** Cancels the call (the connection went away while a user event was pending). */
  signal?: AbortSignal;
  /** One attempt only, with this timeout (shutdown). */
  lastChance?: { timeoutMs: number };
}

export type EventOutcome =
  { kind: 'unhandled' } | { kind: 'answered'; response: HttpResult } | { kind: 'failed'; reason: string };

const SYSTEM_TYPE: Record<SystemEvent, string> = {
  connect: 'azure.webpubsub.sys.connect',
  connected: 'azure.webpubsub.sys.connected',
  disconnected: 'azure.webpubsub.sys.disconnected',
};

const PLACEHOLDER = /\{(hub|event)\}/gi;

/** `{hub}` and `{event}`, any case, URL-escaped; anything else in braces stays as written. */
export function resolveUrlTemplate(template: string, hub: string, event: string): string {
  return template.replace(PLACEHOLDER, (_match, name: string) =>
    encodeURIComponent(name.toLowerCase() === 'hub' ? hub : event),
  );
}

/** Handler URLs may carry secrets (`?code=`): logs show scheme, host and path only. */
function forLog(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : `${url.slice(0, cut)}?…`;
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || (status >= 500 && status <= 599);
}

function latin1OfUtf8(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The service's side of the event-handler protocol: picks the first matching handler setting of the hub,
 * validates its URL once with the abuse-protection handshake, and sends binary-mode CloudEvents with the
 * service's headers, retrying 408, 5xx and network failures with the same ids and body.
 */
export class EventDispatcher {
  readonly #config: EmulatorConfig;
  /** `WebHook-Request-Origin`: the emulator's host, as the service names itself by its host. */
  readonly #origin: string;
  readonly #http: HttpClient;
  readonly #validations = new Map<string, Promise<boolean>>();
  readonly #signatures = new Map<string, string>();
  readonly #stopping = new AbortController();

  constructor(config: EmulatorConfig, originHost: string, http: HttpClient) {
    this.#config = config;
    this.#origin = originHost;
    this.#http = http;
    // Every in-flight upstream request listens on this one signal (a thousand connects at once is normal);
    // each removes its listener when it settles, so many listeners here is load, not a leak.
    setMaxListeners(0, this.#stopping.signal);
  }

  /** The first handler setting of the hub that subscribes to this event. */
  handlerFor(hub: string, type: EventType, eventName: string): EventHandlerConfig | undefined {
    const lower = eventName.toLowerCase();
    for (const handler of handlersOf(this.#config, hub)) {
      if (type !== 'user') {
        if (handler.systemEvents.has(type)) return handler;
      } else if (handler.userEvents === 'all' || handler.userEvents?.has(lower)) {
        return handler;
      }
    }
    return undefined;
  }

  /** Cancels retries and validations in flight (shutdown). */
  stop(): void {
    this.#stopping.abort();
  }

  async dispatch(event: UpstreamEvent): Promise<EventOutcome> {
    const { context } = event;
    const handler = this.handlerFor(context.hub, event.type, event.eventName);
    if (handler === undefined) return { kind: 'unhandled' };
    const url = resolveUrlTemplate(handler.urlTemplate, context.hub, event.eventName);
    if (!(await this.validate(resolveUrlTemplate(handler.urlTemplate, context.hub, 'validate')))) {
      return { kind: 'failed', reason: `the event handler ${forLog(url)} failed validation` };
    }
    const headers = this.#headers(event);
    const signal = event.signal
      ? AbortSignal.any([event.signal, this.#stopping.signal])
      : this.#stopping.signal;
    const deadline = Date.now() + (event.lastChance?.timeoutMs ?? this.#config.eventHandlerTimeoutMs);
    const delays = event.lastChance ? [] : this.#config.retryDelaysMs;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { kind: 'failed', reason: `the event handler ${forLog(url)} timed out` };
      let failure: string;
      try {
        const response = await this.#http.send({
          method: 'POST',
          url,
          headers,
          body: event.body,
          timeoutMs: remaining,
          maxResponseBytes: this.#config.limits.maxHandlerResponseBytes,
          signal,
        });
        if (!isRetryableStatus(response.status) || attempt >= delays.length) {
          return { kind: 'answered', response };
        }
        failure = `status ${response.status}`;
      } catch (error) {
        if (!(error instanceof HttpExchangeError) || error.kind !== 'network' || attempt >= delays.length) {
          const why = error instanceof Error ? error.message : String(error);
          return { kind: 'failed', reason: `the event handler ${forLog(url)} failed: ${why}` };
        }
        failure = error.message;
      }
      this.#config.log(
        `upstream: ${event.type} ${event.eventName} to ${forLog(url)} answered ${failure}; retrying`,
      );
      const delay = Math.min(delays[attempt] ?? 0, Math.max(0, deadline - Date.now()));
      if (!(await sleep(delay, signal))) {
        return { kind: 'failed', reason: `the event to ${forLog(url)} was cancelled` };
      }
    }
  }

  /**
   * The abuse-protection handshake for one resolved URL, shared by concurrent events. Success is
   * remembered for the life of the process; a failure is not, so a handler started later is picked up.
   */
  validate(url: string): Promise<boolean> {
    let validation = this.#validations.get(url);
    if (validation === undefined) {
      validation = this.#runValidation(url).then((ok) => {
        if (!ok) this.#validations.delete(url);
        return ok;
      });
      this.#validations.set(url, validation);
    }
    return validation;
  }

  async #runValidation(url: string): Promise<boolean> {
    const headers = { [CloudEventHeader.requestOrigin]: this.#origin, [CloudEventHeader.awpsVersion]: '1.0' };
    const delays = this.#config.retryDelaysMs;
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      try {
        let response = await this.#validationRequest('OPTIONS', url, headers);
        // Some hosts route OPTIONS nowhere; the service then tries GET.
        if (response.status === 404) response = await this.#validationRequest('GET', url, headers);
        if (response.status >= 200 && response.status <= 299) {
          const allowed = response.headers['webhook-allowed-origin'];
          const value = (Array.isArray(allowed) ? allowed.join(',') : (allowed ?? '')).trim().toLowerCase();
          if (value === '*' || value === this.#origin.toLowerCase()) return true;
          this.#config.log(
            `upstream: validation of ${forLog(url)} failed: WebHook-Allowed-Origin is ` +
              (value === '' ? 'missing' : `"${value}", not "*" or "${this.#origin}"`),
          );
          return false;
        }
        if (!isRetryableStatus(response.status) || attempt >= delays.length) {
          this.#config.log(`upstream: validation of ${forLog(url)} failed with status ${response.status}`);
          return false;
        }
        failure = `status ${response.status}`;
      } catch (error) {
        const kind = error instanceof HttpExchangeError ? error.kind : 'network';
        const why = error instanceof Error ? error.message : String(error);
        if (kind !== 'network' || attempt >= delays.length) {
          this.#config.log(`upstream: validation of ${forLog(url)} failed: ${why}`);
          return false;
        }
        failure = why;
      }
      this.#config.log(`upstream: validation of ${forLog(url)} answered ${failure}; retrying`);
      if (!(await sleep(delays[attempt] ?? 0, this.#stopping.signal))) return false;
    }
  }

  #validationRequest(
    method: 'OPTIONS' | 'GET',
    url: string,
    headers: Record<string, string>,
  ): Promise<HttpResult> {
    return this.#http.send({
      method,
      url,
      headers,
      timeoutMs: this.#config.validationTimeoutMs,
      maxResponseBytes: 64 * 1024,
      signal: this.#stopping.signal,
    });
  }

  #signature(connectionId: string): string {
    let signature = this.#signatures.get(connectionId);
    if (signature === undefined) {
      signature = signatureHeaderValue(this.#config.accessKeys, connectionId);
      // Bounded: a long-running emulator sees many connections come and go.
      if (this.#signatures.size >= 10_000) this.#signatures.clear();
      this.#signatures.set(connectionId, signature);
    }
    return signature;
  }

  #headers(event: UpstreamEvent): Record<string, string> {
    const { context } = event;
    const H = CloudEventHeader;
    const type = event.type === 'user' ? `azure.webpubsub.user.${event.eventName}` : SYSTEM_TYPE[event.type];
    const headers: Record<string, string> = {
      [H.requestOrigin]: this.#origin,
      [H.specVersion]: '1.0',
      [H.awpsVersion]: '1.0',
      [H.type]: type,
      [H.source]: `/hubs/${context.hub}/client/${context.connectionId}`,
      [H.id]: String(event.id),
      [H.time]: new Date().toISOString(),
      [H.hub]: context.hub,
      [H.connectionId]: context.connectionId,
      [H.eventName]: event.eventName,
      [H.signature]: this.#signature(context.connectionId),
      // One id per event, the same on every retry, so a handler can tell a retry from a new event.
      'x-ms-client-request-id': randomUUID(),
      [H.contentType]: event.contentType,
    };
    // The service sends the user id's UTF-8 bytes as they are (node:http writes a string's code units).
    if (context.userId !== undefined) headers[H.userId] = latin1OfUtf8(context.userId);
    // On connect the subprotocol is not chosen yet (the offered list is in the body).
    if (event.type !== 'connect' && context.subprotocol !== undefined) {
      headers[H.subprotocol] = context.subprotocol;
    }
    if (context.state !== undefined && context.state !== '') headers[H.connectionState] = context.state;
    const cookie = context.cookies.header();
    if (cookie !== undefined) headers.Cookie = cookie;
    return headers;
  }
}

/** The last value of a header that may repeat (rawHeaders keeps every line). */
export function lastHeader(response: HttpResult, name: string): string | undefined {
  let value: string | undefined;
  const lower = name.toLowerCase();
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
    if ((response.rawHeaders[i] as string).toLowerCase() === lower) value = response.rawHeaders[i + 1];
  }
  return value;
}
