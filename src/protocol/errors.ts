/**
 * Typed failures of the protocol layer. Each carries the HTTP status it means on the wire and a stable
 * code that clients and tests can match on; src/http/problem.ts is the one place that renders them.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    title: string,
    detail: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.headers = headers;
  }
}

export const badRequest = (code: string, detail: string): ProblemError =>
  new ProblemError(400, code, 'Bad request', detail);

export const missingHeader = (name: string): ProblemError =>
  new ProblemError(400, 'missing-header', 'A required header is missing', `The ${name} header is required.`);

export const invalidHeader = (name: string, why: string): ProblemError =>
  new ProblemError(400, 'invalid-header', 'A header has an invalid value', `The ${name} header ${why}.`);

export const unauthorized = (code: string, detail: string): ProblemError =>
  new ProblemError(401, code, 'Unauthorized', detail);

export const forbidden = (code: string, detail: string): ProblemError =>
  new ProblemError(403, code, 'Forbidden', detail);

export const notFound = (code: string, detail: string): ProblemError =>
  new ProblemError(404, code, 'Not found', detail);

export const payloadTooLarge = (limitBytes: number): ProblemError =>
  new ProblemError(
    413,
    'payload-too-large',
    'The request body is too large',
    `The request body exceeds the limit of ${limitBytes} bytes.`,
  );

export const unsupportedMediaType = (detail: string): ProblemError =>
  new ProblemError(415, 'unsupported-media-type', 'Unsupported media type', detail);

export const internalError = (detail: string): ProblemError =>
  new ProblemError(500, 'internal-error', 'Internal server error', detail);
