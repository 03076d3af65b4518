import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { payloadTooLarge } from '../../protocol/errors';
import type { CoreRequest, CoreResponse, Logger } from '../../http/types';

/** The Functions <-> core adapter: the only code that knows the @azure/functions request and response types. */
export function toCoreRequest(request: HttpRequest): CoreRequest {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    params: request.params,
    readBody: (maxBytes) => readLimited(request, maxBytes),
  };
}

async function readLimited(request: HttpRequest, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw payloadTooLarge(maxBytes);
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw payloadTooLarge(maxBytes);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, size);
}

export function toResponseInit(response: CoreResponse): HttpResponseInit {
  return { status: response.status, headers: response.headers, body: response.body };
}

/** Structured fields go out as one JSON argument, so hosts and log queries keep them together. */
export function loggerFor(context: InvocationContext): Logger {
  const format = (fields?: Record<string, unknown>): unknown[] =>
    fields === undefined ? [] : [JSON.stringify({ invocationId: context.invocationId, ...fields })];
  return {
    info: (message, fields) => context.info(message, ...format(fields)),
    warn: (message, fields) => context.warn(message, ...format(fields)),
    error: (message, fields) => context.error(message, ...format(fields)),
  };
}

export type CoreHandler = (request: CoreRequest, log: Logger) => Promise<CoreResponse>;

export function serve(handler: CoreHandler) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    toResponseInit(await handler(toCoreRequest(request), loggerFor(context)));
}
