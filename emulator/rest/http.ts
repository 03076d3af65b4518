import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The service's REST error: status, `x-ms-error-code` header and a JSON `ErrorDetail` body
 * `{code, message, target?}` (azure-rest-api-specs, WebPubSub models.tsp). HEAD answers carry the header only.
 */
export class RestError extends Error {
  readonly status: number;
  readonly code: string;
  readonly target: string | undefined;

  constructor(status: number, code: string, message: string, target?: string) {
    super(message);
    this.name = 'RestError';
    this.status = status;
    this.code = code;
    this.target = target;
  }
}

export const badRequest = (message: string, target?: string): RestError =>
  new RestError(400, 'Error.BadRequest', message, target);

export function writeError(req: IncomingMessage, res: ServerResponse, error: RestError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'x-ms-error-code': error.code };
  if (req.method === 'HEAD') {
    res.writeHead(error.status, headers).end();
    return;
  }
  const body = JSON.stringify({
    code: error.code,
    message: error.message,
    ...(error.target === undefined ? {} : { target: error.target }),
  });
  headers['Content-Type'] = 'application/json; charset=utf-8';
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(error.status, headers).end(body);
}

export function writeEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': '0' }).end();
}

export function writeJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res
    .writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
    })
    .end(body);
}

/** The request body, refused with 413 above `limit` bytes (declared or actual). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
    });
  });
}

function tooLarge(limit: number): RestError {
  return new RestError(413, 'Error.PayloadTooLarge', `The request body exceeds the limit of ${limit} bytes.`);
}
