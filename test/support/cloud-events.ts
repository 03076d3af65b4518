import { Readable } from 'node:stream';
import type { CoreRequest, CoreResponse, Logger } from '../../src/http/types';
import { payloadTooLarge } from '../../src/protocol/errors';
import vectors from '../fixtures/signature-vectors.json';

/**
 * Requests as the service sends them (reference-cloud-events.md of the Azure docs): binary-mode CloudEvents,
 * every attribute in a ce-* header. Signatures come from the external vectors only, never from src/.
 */
export const PRIMARY = vectors.vectors[1]!; // connection 0f9c97a2..., key 7aab2395...
export const SECONDARY = vectors.vectors[0]!; // a different key, for rotation cases
export const ORIGIN = 'myresource.webpubsub.azure.com';
export const HUB = 'chat';
export const CONNECTION_ID = PRIMARY.connectionId;
export const ACCESS_KEY = PRIMARY.accessKey;
export const SIGNATURE = `sha256=${PRIMARY.hex}`;

export type EventKind = 'connect' | 'connected' | 'disconnected' | `user.${string}`;

export function ceType(kind: EventKind): string {
  return kind.startsWith('user.') ? `azure.webpubsub.${kind}` : `azure.webpubsub.sys.${kind}`;
}

export function eventName(kind: EventKind): string {
  return kind.startsWith('user.') ? kind.slice('user.'.length) : kind;
}

/** The header set the service sends for an event; override or delete (value undefined) any of them. */
export function eventHeaders(
  kind: EventKind,
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const base: Record<string, string | undefined> = {
    'webhook-request-origin': ORIGIN,
    'ce-specversion': '1.0',
    'ce-awpsversion': '1.0',
    'ce-type': ceType(kind),
    'ce-source': `/hubs/${HUB}/client/${CONNECTION_ID}`,
    'ce-id': '1',
    'ce-time': '2021-01-01T00:00:00Z',
    'ce-hub': HUB,
    'ce-connectionid': CONNECTION_ID,
    'ce-userid': 'user1',
    'ce-eventname': eventName(kind),
    'ce-signature': SIGNATURE,
    'content-type': kind.startsWith('user.')
      ? 'text/plain; charset=utf-8'
      : 'application/json; charset=utf-8',
  };
  const merged = { ...base, ...overrides };
  return Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** The connect body of the documentation example. */
export function connectBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    claims: { sub: ['user1'], role: ['webpubsub.joinLeaveGroup'] },
    query: { room: ['lobby'] },
    headers: { 'user-agent': ['test'] },
    subprotocols: ['json.webpubsub.azure.v1', 'protocol2'],
    clientCertificates: [
      { thumbprint: 'ABC', content: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----' },
    ],
    ...overrides,
  };
}

export interface TestRequest {
  method?: string;
  url?: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** An in-memory CoreRequest that records whether the body was read. */
export function coreRequest(request: TestRequest): CoreRequest & { bodyRead: boolean } {
  const headers = new Headers(request.headers);
  const bytes =
    typeof request.body === 'string' ? Buffer.from(request.body) : (request.body ?? new Uint8Array());
  const result = {
    method: request.method ?? 'POST',
    url: request.url ?? 'https://app.example/api/webpubsub/events?code=function-key',
    headers,
    bodyRead: false,
    readBody(maxBytes: number): Promise<Uint8Array> {
      result.bodyRead = true;
      if (bytes.byteLength > maxBytes) return Promise.reject(payloadTooLarge(maxBytes));
      return Promise.resolve(bytes);
    },
  };
  return result;
}

export function bodyText(response: CoreResponse): string {
  if (response.body === undefined) return '';
  return typeof response.body === 'string' ? response.body : Buffer.from(response.body).toString('utf8');
}

export function header(response: CoreResponse, name: string): string | undefined {
  const entry = Object.entries(response.headers ?? {}).find(
    ([key]) => key.toLowerCase() === name.toLowerCase(),
  );
  return entry?.[1];
}

export interface CapturedLog extends Logger {
  lines: { level: string; message: string; fields?: Record<string, unknown> }[];
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  return {
    lines,
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
  };
}

export function readableOf(body: string | Uint8Array | undefined): Readable {
  return Readable.from(
    body === undefined ? [] : [typeof body === 'string' ? Buffer.from(body) : Buffer.from(body)],
  );
}
