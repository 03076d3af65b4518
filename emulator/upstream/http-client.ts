import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * One HTTP exchange with an event handler, on node:http(s) rather than fetch: the service sends a raw
 * UTF-8 `ce-userId`, which fetch's header validation refuses, and a handler's repeated headers must be
 * read one by one (the last `ce-connectionState` wins).
 */
export interface HttpExchange {
  method: 'POST' | 'OPTIONS' | 'GET';
  url: string;
  /** Values are sent as bytes: pass UTF-8 text as a latin1 string of its bytes. */
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** Name/value pairs as received, for headers that may repeat. */
  rawHeaders: readonly string[];
  body: Buffer;
}

export type HttpFailure = 'network' | 'timeout' | 'too-large' | 'aborted';

export class HttpExchangeError extends Error {
  readonly kind: HttpFailure;
  constructor(kind: HttpFailure, message: string) {
    super(message);
    this.name = 'HttpExchangeError';
    this.kind = kind;
  }
}

export class HttpClient {
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  readonly #https = new HttpsAgent({ keepAlive: true, maxSockets: 64 });

  send(exchange: HttpExchange): Promise<HttpResult> {
    return new Promise<HttpResult>((resolve, reject) => {
      const url = new URL(exchange.url);
      const secure = url.protocol === 'https:';
      const headers: Record<string, string> = { ...exchange.headers };
      if (exchange.body !== undefined) headers['Content-Length'] = String(exchange.body.length);
      let settled = false;
      const finish = (error: HttpExchangeError | undefined, result?: HttpResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        exchange.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(result as HttpResult);
      };
      const req = (secure ? httpsRequest : httpRequest)(url, {
        method: exchange.method,
        headers,
        agent: secure ? this.#https : this.#http,
      });
      const fail = (error: HttpExchangeError): void => {
        finish(error);
        req.destroy();
      };
      const timer = setTimeout(() => {
        fail(new HttpExchangeError('timeout', `no answer within ${exchange.timeoutMs} ms`));
      }, exchange.timeoutMs);
      const onAbort = (): void => {
        fail(new HttpExchangeError('aborted', 'the request was cancelled'));
      };
      if (exchange.signal?.aborted) {
        onAbort();
        return;
      }
      exchange.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error: NodeJS.ErrnoException) => {
        finish(new HttpExchangeError('network', error.code ?? error.message));
      });
      req.on('response', (res) => {
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > exchange.maxResponseBytes) {
          fail(new HttpExchangeError('too-large', `the response declares ${declared} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > exchange.maxResponseBytes) {
            fail(
              new HttpExchangeError('too-large', `the response exceeds ${exchange.maxResponseBytes} bytes`),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          finish(undefined, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
          });
        });
        res.on('error', () => {
          finish(new HttpExchangeError('network', 'the response was cut off'));
        });
      });
      req.end(exchange.body);
    });
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}
