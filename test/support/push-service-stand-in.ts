import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { jwtVerify } from 'jose';

/**
 * A local HTTP stand-in for the Web PubSub data plane that records every request the SDK makes and answers
 * as a test tells it to. It checks the SDK's bearer token as the service does (HS256 with the access key's
 * UTF-8 bytes, audience = the full request URL), with jose, never with our code.
 */

export interface RecordedRequest {
  method: string;
  /** The path as sent on the wire (still percent-encoded), without the query. */
  rawPath: string;
  /** The path's segments, percent-decoded one by one (a `%2F` stays inside its segment). */
  segments: string[];
  /** Query pairs in wire order, decoded. */
  query: [string, string][];
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The bearer token verified: signature with the access key and audience equal to this request's URL. */
  authorized: boolean;
  /** Resolves when the client gave up on the request (its socket closed before an answer). */
  abandoned: Promise<void>;
  /** The status the stand-in answered with; undefined while hanging or when it dropped the connection. */
  answered: number | undefined;
}

export type Reply =
  { status: number; headers?: Record<string, string>; body?: string | Buffer } | 'hang' | 'destroy';

export type Responder = (request: RecordedRequest, attempt: number) => Reply;

export interface ServiceStandIn {
  readonly endpoint: string;
  readonly port: number;
  readonly accessKey: string;
  readonly requests: RecordedRequest[];
  /** How to answer from now on; `attempt` counts requests since the last call to `respond`. */
  respond(responder: Responder): void;
  /** Forget recorded requests and go back to the default answers. */
  reset(): void;
  /** Stop listening and drop every connection: from then on, connections are refused. */
  refuse(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The success status of each data-plane operation, transcribed from the operation specs of
 * @azure/web-pubsub 1.2.0 (dist/commonjs/generated/operations/webPubSub.js); the SDK throws on any other
 * status, so an error here would show up as a failed call.
 */
export function expectedStatus(method: string, segments: readonly string[]): number {
  const last = segments[segments.length - 1] ?? '';
  if (method === 'POST' && last === ':send') return 202;
  if (method === 'POST' && last === ':closeConnections') return 204;
  if (method === 'PUT') return 200;
  if (method === 'DELETE') return 204;
  if (method === 'HEAD') return 200;
  return 200;
}

export const defaultResponder: Responder = (request): Reply => {
  const status = expectedStatus(request.method, request.segments);
  if (request.method === 'GET') {
    return {
      status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: [] }),
    };
  }
  return { status, headers: { 'x-ms-request-id': `svc-${request.method.toLowerCase()}` } };
};

async function verifies(token: string | undefined, accessKey: string, url: string): Promise<boolean> {
  if (token === undefined) return false;
  try {
    await jwtVerify(token, new TextEncoder().encode(accessKey), { audience: url, algorithms: ['HS256'] });
    return true;
  } catch {
    return false;
  }
}

export async function startServiceStandIn(
  accessKey = 'StandInAccessKey0123456789abcdef',
): Promise<ServiceStandIn> {
  const requests: RecordedRequest[] = [];
  let responder: Responder = defaultResponder;
  let attempts = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const raw = req.url ?? '/';
        const queryAt = raw.indexOf('?');
        const rawPath = queryAt < 0 ? raw : raw.slice(0, queryAt);
        const rawQuery = queryAt < 0 ? '' : raw.slice(queryAt + 1);
        const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const url = `http://${req.headers.host ?? ''}${raw}`;
        const abandoned = new Promise<void>((resolve) => {
          res.once('close', () => {
            if (!res.writableFinished) resolve();
          });
        });
        const recorded: RecordedRequest = {
          method: req.method ?? '',
          rawPath,
          segments: rawPath.split('/').slice(1).map(decodeURIComponent),
          query: [...new URLSearchParams(rawQuery)],
          rawQuery,
          headers: req.headers,
          body: Buffer.concat(chunks),
          authorized: await verifies(auth, accessKey, url),
          abandoned,
          answered: undefined,
        };
        requests.push(recorded);
        attempts += 1;
        if (!recorded.authorized) {
          recorded.answered = 401;
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"Unauthorized"}');
          return;
        }
        const reply = responder(recorded, attempts);
        if (reply === 'hang') return;
        if (reply === 'destroy') {
          req.socket.destroy();
          return;
        }
        recorded.answered = reply.status;
        res.writeHead(reply.status, reply.headers).end(reply.body);
      })();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  let closed = false;
  async function stop(): Promise<void> {
    if (closed) return;
    closed = true;
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    accessKey,
    requests,
    respond(next) {
      responder = next;
      attempts = 0;
    },
    reset() {
      requests.length = 0;
      responder = defaultResponder;
      attempts = 0;
    },
    refuse: stop,
    close: stop,
  };
}

/** The query pairs without `api-version`, which every request carries (checked separately). */
export function operationQuery(request: RecordedRequest): [string, string][] {
  return request.query.filter(([name]) => name !== 'api-version');
}
