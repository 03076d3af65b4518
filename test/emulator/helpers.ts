import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../emulator';

/**
 * Test plumbing for the emulator suites: an emulator on a free loopback port, the official server SDK
 * pointed at it, raw `ws` clients whose messages can be awaited one by one, and a recording webhook.
 * No sleeps: everything waits on an event.
 */
export const TEST_KEY = 'test-access-key-0123456789-abcdefghijklmnopqrstuvwxyz';

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return createEmulator({ port: 0, host: '127.0.0.1', accessKey: TEST_KEY, ...options });
}

export function serviceClient(emulator: Emulator, hub: string): WebPubSubServiceClient {
  return new WebPubSubServiceClient(emulator.connectionString, hub, {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
  });
}

/** An HS256 token signed by jose (not by the emulator's code) with the given claims. */
export async function signToken(
  claims: Record<string, unknown>,
  key = TEST_KEY,
  expiresIn: string | number = '1h',
): Promise<string> {
  const { SignJWT } = await import('jose');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(Buffer.from(key, 'utf8'));
}

export interface RestRequestOptions {
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** The token's audience; default the full request URL, as @azure/web-pubsub signs it. */
  audience?: string;
  /** Replaces the bearer token (null: no Authorization header). */
  token?: string | null;
  key?: string;
}

/** A REST call made by hand, for what the SDK cannot send (broken bodies, odd queries, bad tokens). */
export async function restRequest(
  emulator: Emulator,
  method: string,
  pathAndQuery: string,
  options: RestRequestOptions = {},
): Promise<Response> {
  const url = `${emulator.endpoint}${pathAndQuery}`;
  const headers: Record<string, string> = { ...options.headers };
  const token =
    options.token === undefined
      ? await signToken({ aud: options.audience ?? url }, options.key)
      : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (options.contentType !== undefined) headers['Content-Type'] = options.contentType;
  return fetch(url, { method, headers, body: options.body });
}

export interface TokenOptions {
  userId?: string;
  roles?: string[];
  groups?: string[];
}

/** A client access URL minted by the official SDK (its token, its audience). */
export async function clientUrl(
  emulator: Emulator,
  hub: string,
  options: TokenOptions = {},
): Promise<string> {
  const { url } = await serviceClient(emulator, hub).getClientAccessToken(options);
  return url;
}

export interface Frame {
  data: Buffer;
  isBinary: boolean;
}

/** A `ws` client whose frames queue up until a test asks for them. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #frames: Frame[] = [];
  readonly #waiters: ((frame: Frame) => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const frame = { data: data as Buffer, isBinary };
      const waiter = this.#waiters.shift();
      if (waiter) waiter(frame);
      else this.#frames.push(frame);
    });
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') }));
    });
  }

  /** Opens a socket; rejects with the HTTP status when the handshake is refused. */
  static open(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, options);
      const socket = new TestSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        reject(new HandshakeRefused(res.statusCode ?? 0));
        res.resume();
        ws.terminate();
      });
      ws.once('error', (error) => reject(error));
    });
  }

  next(): Promise<Frame> {
    const frame = this.#frames.shift();
    if (frame) return Promise.resolve(frame);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async nextJson(): Promise<Record<string, unknown>> {
    const frame = await this.next();
    return JSON.parse(frame.data.toString('utf8')) as Record<string, unknown>;
  }

  async nextText(): Promise<string> {
    return (await this.next()).data.toString('utf8');
  }

  /** The next JSON message whose `type` is not in `skip` (e.g. skip acks while waiting for data). */
  async nextOfType(type: string): Promise<Record<string, unknown>> {
    for (;;) {
      const message = await this.nextJson();
      if (message.type === type) return message;
    }
  }

  get pending(): number {
    return this.#frames.length;
  }

  sendJson(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

export class HandshakeRefused extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`handshake refused with ${status}`);
    this.status = status;
  }
}

/** The handshake status of a refused connection attempt. */
export async function refusedStatus(
  url: string,
  protocols?: string | string[],
  options?: ClientOptions,
): Promise<number> {
  try {
    const socket = await TestSocket.open(url, protocols, options);
    await socket.close();
  } catch (error) {
    if (error instanceof HandshakeRefused) return error.status;
    throw error;
  }
  throw new Error(`the handshake to ${url} succeeded`);
}

/** Opens a JSON-protocol client and reads its `connected` message. */
export async function jsonClient(
  emulator: Emulator,
  hub: string,
  options: TokenOptions = {},
  protocol = 'json.webpubsub.azure.v1',
): Promise<{ socket: TestSocket; connected: Record<string, unknown> }> {
  const socket = await TestSocket.open(await clientUrl(emulator, hub, options), protocol);
  const connected = await socket.nextJson();
  return { socket, connected };
}

// ---------------------------------------------------------------------------------------------------------
// A recording webhook

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The request's socket closed before an answer was written (the caller cancelled). */
  aborted: Promise<void>;
}

export interface WebhookReply {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string | Buffer;
}

export type Responder = (request: RecordedRequest) => WebhookReply | Promise<WebhookReply> | undefined;

/**
 * A local event handler: answers the validation handshake with `WebHook-Allowed-Origin: *` unless the
 * responder says otherwise, records every request, and lets a test wait for the n-th matching one.
 */
export class TestWebhook {
  readonly server: Server;
  readonly requests: RecordedRequest[] = [];
  responder: Responder = () => undefined;
  readonly #listeners: (() => void)[] = [];
  #port = 0;

  private constructor() {
    this.server = createServer((req, res) => {
      this.#handle(req, res);
    });
  }

  static async start(): Promise<TestWebhook> {
    const webhook = new TestWebhook();
    webhook.server.listen(0, '127.0.0.1');
    await once(webhook.server, 'listening');
    webhook.#port = (webhook.server.address() as AddressInfo).port;
    return webhook;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Event POSTs only (not the validation requests). */
  events(type?: string): RecordedRequest[] {
    return this.requests.filter(
      (request) => request.method === 'POST' && (type === undefined || request.headers['ce-type'] === type),
    );
  }

  /** Resolves with the first `count` recorded requests that match, once they have arrived. */
  waitFor(predicate: (request: RecordedRequest) => boolean, count = 1): Promise<RecordedRequest[]> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const matching = this.requests.filter(predicate);
        if (matching.length < count) return false;
        resolve(matching.slice(0, count));
        return true;
      };
      if (check()) return;
      const listener = (): void => {
        if (check()) this.#listeners.splice(this.#listeners.indexOf(listener), 1);
      };
      this.#listeners.push(listener);
    });
  }

  waitForEvent(type: string, count = 1): Promise<RecordedRequest[]> {
    return this.waitFor((request) => request.method === 'POST' && request.headers['ce-type'] === type, count);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let answered = false;
    const aborted = new Promise<void>((resolve) => {
      res.once('close', () => {
        if (!answered) resolve();
      });
    });
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
        aborted,
      };
      this.requests.push(request);
      for (const listener of [...this.#listeners]) listener();
      Promise.resolve(this.responder(request)).then(
        (reply) => {
          answered = true;
          if (res.destroyed) return;
          const answer = reply ?? defaultReply(request);
          const headers = Object.entries(answer.headers ?? {}).filter(
            (entry): entry is [string, string | string[]] => entry[1] !== undefined,
          );
          res.writeHead(answer.status ?? 200, Object.fromEntries(headers));
          res.end(answer.body);
        },
        () => {
          answered = true;
          res.writeHead(500).end();
        },
      );
    });
  }
}

function defaultReply(request: RecordedRequest): WebhookReply {
  if (request.method === 'OPTIONS') return { status: 200, headers: { 'WebHook-Allowed-Origin': '*' } };
  return { status: 204 };
}

/** A hub whose one handler gets every system event and every user event. */
export function allEvents(url: string): {
  eventHandlers: [{ urlTemplate: string; systemEvents: string[]; userEventPattern: string }];
} {
  return {
    eventHandlers: [
      { urlTemplate: url, systemEvents: ['connect', 'connected', 'disconnected'], userEventPattern: '*' },
    ],
  };
}

/** A request header as one string (repeated lines joined as Node joins them). */
export function header(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}
