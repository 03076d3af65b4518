import { ProblemError } from '../protocol/errors';
import { ServiceThrottledError } from './resilience';

/**
 * What a failed call to the Web PubSub service means for our caller. The rule is honesty: the caller's own
 * mistakes that only the service could see (a filter it cannot parse, a connection that does not exist) keep
 * their 4xx; the service being busy or down is 503 with Retry-After; no answer in time is 504, because then
 * nobody knows whether the operation took effect; our own credentials being refused is 502, since the caller
 * can do nothing about it. Nothing here ever turns a failure into a success.
 */

/** When the service gives no Retry-After: long enough not to hammer it, short enough for a busy moment. */
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

/** The parts of `RestError` (core-rest-pipeline) we read. Matched by name, as the SDK's own `isRestError`. */
interface RestErrorLike {
  name: 'RestError';
  message: string;
  code?: string;
  statusCode?: number;
  response?: { status: number; headers: { get(name: string): string | undefined } };
}

function isRestError(error: unknown): error is RestErrorLike {
  return error instanceof Error && error.name === 'RestError';
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
  'AuthenticationRequiredError',
]);

export interface ServiceFailureContext {
  /** The call's deadline fired: whatever the error says, the service did not finish in time. */
  timedOut: boolean;
  timeoutMs: number;
}

/** The service's request id of a failed call, when it sent one. */
export function serviceRequestIdOf(error: unknown): string | undefined {
  if (error instanceof ServiceThrottledError) return error.serviceRequestId;
  if (isRestError(error)) return error.response?.headers.get('x-ms-request-id') ?? undefined;
  return undefined;
}

/** The status the service answered with, for logs. */
export function serviceStatusOf(error: unknown): number | undefined {
  if (error instanceof ServiceThrottledError) return error.statusCode;
  if (isRestError(error)) return error.statusCode;
  return undefined;
}

/** Service text for a 4xx detail: one line, bounded, since it may be a proxy's HTML page. */
function serviceMessage(error: RestErrorLike): string {
  const text = error.message.replace(/\s+/g, ' ').trim();
  const bounded = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  const code = error.code !== undefined && error.code !== '' ? ` (${error.code})` : '';
  return bounded === '' ? `no details${code}` : `${bounded}${code}`;
}

function retryAfterSeconds(error: RestErrorLike): number {
  const headers = error.response?.headers;
  const ms = headers?.get('retry-after-ms') ?? headers?.get('x-ms-retry-after-ms');
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.max(1, Math.ceil(Number(ms) / 1000));
  const value = headers?.get('retry-after')?.trim();
  if (value !== undefined && /^\d+$/.test(value)) return Math.max(1, Number(value));
  if (value !== undefined) {
    const date = Date.parse(value);
    if (Number.isFinite(date)) return Math.max(1, Math.ceil((date - Date.now()) / 1000));
  }
  return DEFAULT_RETRY_AFTER_SECONDS;
}

export function serviceUnavailable(detail: string, retryAfter: number): ProblemError {
  return new ProblemError(503, 'service-unavailable', 'Service unavailable', detail, {
    'retry-after': String(retryAfter),
  });
}

/**
 * The problem a failed service call becomes, or undefined when the error is not a service failure (a bug of
 * ours, left to the generic 500).
 */
export function serviceProblem(error: unknown, context: ServiceFailureContext): ProblemError | undefined {
  if (context.timedOut) {
    return new ProblemError(
      504,
      'service-timeout',
      'Gateway timeout',
      `The Web PubSub service did not complete the call within ${context.timeoutMs} ms; ` +
        'the operation may or may not have taken effect.',
    );
  }
  if (error instanceof ServiceThrottledError) {
    return serviceUnavailable(
      `The Web PubSub service is throttling or unavailable (${error.statusCode}); retry after ${error.retryAfterSeconds} s.`,
      error.retryAfterSeconds,
    );
  }
  if (error instanceof Error && CREDENTIAL_ERRORS.has(error.name)) {
    return new ProblemError(
      503,
      'service-credential-unavailable',
      'Service unavailable',
      'A token for the Web PubSub service could not be obtained (managed identity).',
      { 'retry-after': String(DEFAULT_RETRY_AFTER_SECONDS) },
    );
  }
  if (!isRestError(error)) return undefined;

  const status = error.statusCode;
  if (status === undefined) {
    // No HTTP answer at all: refused, reset, unresolvable. The SDK has already retried once.
    return new ProblemError(
      503,
      'service-unreachable',
      'Service unavailable',
      `The Web PubSub service could not be reached or dropped the connection${error.code ? ` (${error.code})` : ''}.`,
      { 'retry-after': String(DEFAULT_RETRY_AFTER_SECONDS) },
    );
  }
  if (status === 429 || status >= 500) {
    const retryAfter = retryAfterSeconds(error);
    return serviceUnavailable(
      `The Web PubSub service answered ${status}; retry after ${retryAfter} s.`,
      retryAfter,
    );
  }
  const passedThrough = PASSED_THROUGH[status];
  if (passedThrough !== undefined) {
    const [code, title, lead] = passedThrough;
    return new ProblemError(status, code, title, `${lead}: ${serviceMessage(error)}`);
  }
  if (status === 401 || status === 403) {
    return new ProblemError(
      502,
      'service-authentication-failed',
      'Bad gateway',
      `The Web PubSub service refused this app's credentials (${status}).`,
    );
  }
  return new ProblemError(
    502,
    'service-error',
    'Bad gateway',
    `The Web PubSub service answered an unexpected ${status}.`,
  );
}

/** The service's answers about the caller's own request keep their status: code, title, detail's lead. */
const PASSED_THROUGH: Partial<Record<number, readonly [code: string, title: string, lead: string]>> = {
  400: ['service-rejected-request', 'Bad request', 'The Web PubSub service refused the request'],
  404: ['not-found', 'Not found', 'The Web PubSub service answered 404'],
  409: ['conflict', 'Conflict', 'The Web PubSub service answered 409'],
  413: [
    'payload-too-large',
    'The request body is too large',
    'The Web PubSub service refused the message as too large',
  ],
};
