import { internalError, ProblemError } from '../protocol/errors';
import type { CoreResponse, Logger } from './types';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_PREFIX = 'urn:webpubsub-functions:problem:';

/**
 * The one place where a failure becomes an HTTP response. Typed problems keep their status and detail;
 * anything else is a fault of ours, answered 500 without internals. Every 5xx is logged.
 */
export function problemResponse(
  error: unknown,
  log?: Logger,
  fields?: Record<string, unknown>,
): CoreResponse {
  const problem =
    error instanceof ProblemError ? error : internalError('The request could not be processed.');
  if (problem.status >= 500) {
    log?.error('request failed', { ...fields, code: problem.code, error: describeError(error) });
  }
  return {
    status: problem.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...problem.headers },
    body: JSON.stringify({
      type: TYPE_PREFIX + problem.code,
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
    }),
  };
}

/** Error text for logs: the message and stack, never the object graph (which could hold a request). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
