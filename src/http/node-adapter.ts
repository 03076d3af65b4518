import type { IncomingMessage, ServerResponse } from 'node:http';
import { payloadTooLarge } from '../protocol/errors';
import type { HeaderSource } from '../protocol/headers';
import type { CoreRequest, CoreResponse } from './types';

/** Serves a core handler from a plain node:http server (benchmarks, containers, the emulator's tests). */
export function fromIncomingMessage(req: IncomingMessage, baseUrl: string): CoreRequest {
  const raw = req.headers;
  const headers: HeaderSource = {
    get(name) {
      // Node keys headers in lower case, and so do our callers: lowering is only the fallback.
      const value = raw[name] ?? raw[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
  return {
    method: req.method ?? 'GET',
    url: baseUrl + (req.url ?? '/'),
    headers,
    readBody: (maxBytes) => readLimited(req, maxBytes),
  };
}

function readLimited(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(payloadTooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.resume();
        reject(payloadTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

export function writeCoreResponse(res: ServerResponse, response: CoreResponse): void {
  const body = response.body ?? '';
  const headers: Record<string, string | number> = { ...response.headers };
  headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  res.writeHead(response.status, headers);
  res.end(body);
}
