import type { HeaderSource } from '../protocol/headers';

/**
 * The small request shape every handler takes, whatever the host (Functions, plain node:http, tests).
 * The body is read on demand so a request can be classified and refused from its headers alone.
 */
export interface CoreRequest {
  readonly method: string;
  /** Absolute URL, query included. */
  readonly url: string;
  readonly headers: HeaderSource;
  /** Route parameters, percent-decoded, when the host matched a route template (Functions: request.params). */
  readonly params?: Readonly<Record<string, string>>;
  /** Reads the whole body; rejects with a 413 problem past maxBytes, without buffering the excess. */
  readBody(maxBytes: number): Promise<Uint8Array>;
}

export interface CoreResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
