import type { WebPubSubServiceClientOptions } from '@azure/web-pubsub';

/**
 * How long a call to the service may take, and what is retried within that time. The SDK's defaults (three
 * retries, exponential back-off from 1 s, any Retry-After honoured in full) can hold a caller for ~6 s or, with
 * a long Retry-After, for minutes; a server calling us needs one bound it can plan for. So:
 *
 * - one retry at most (`retryOptions.maxRetries: 1`), after 100–200 ms for 408/5xx and connection failures, or
 *   after the service's Retry-After for 429/503 when that wait still fits in the budget;
 * - a Retry-After that does not fit is not waited for: the call fails at once with the service's hint, which
 *   the caller gets back as our own Retry-After (see `ServiceThrottledError`);
 * - everything (credential, attempts, waits) runs under one abort signal that fires after the budget, which
 *   the caller arms per call (see `serviceDeadline`).
 */
type PipelinePolicy = NonNullable<WebPubSubServiceClientOptions['additionalPolicies']>[number]['policy'];
type PipelineRequest = Parameters<PipelinePolicy['sendRequest']>[0];
type PipelineResponse = Awaited<ReturnType<PipelinePolicy['sendRequest']>>;

export const SERVICE_MAX_RETRIES = 1;
const RETRY_DELAY_MS = 200;
/** A retry needs some time of its own; a Retry-After that leaves less than this is not worth waiting for. */
const MIN_ATTEMPT_MS = 250;

/** The service throttled us (429/503) and asked for a wait longer than the call's budget allows. */
export class ServiceThrottledError extends Error {
  constructor(
    readonly statusCode: number,
    readonly retryAfterSeconds: number,
    readonly serviceRequestId: string | undefined,
  ) {
    super(`The Web PubSub service answered ${statusCode} and asked to retry after ${retryAfterSeconds} s.`);
    this.name = 'ServiceThrottledError';
  }
}

interface HeaderLookup {
  get(name: string): string | undefined;
}

/**
 * The wait a 429/503 asks for, in milliseconds, read as the SDK's throttling strategy reads it
 * (`retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After` in seconds or as an HTTP date).
 */
export function retryAfterMs(status: number, headers: HeaderLookup, now: number): number | undefined {
  if (status !== 429 && status !== 503) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = headers.get(name);
    if (value !== undefined && /^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  }
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter === undefined || retryAfter === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(retryAfter)) return Number(retryAfter) * 1000;
  const date = Date.parse(retryAfter);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/**
 * Runs on every attempt (after signing, inside the SDK's retry loop) and fails the call at once when the
 * service asks for a wait that would not fit in what is left of the budget. Thrown errors that are not
 * RestErrors end the SDK's retry loop immediately, which is what we want here.
 */
function throttleBudgetPolicy(budgetMs: number): PipelinePolicy {
  const started = new WeakMap<PipelineRequest, number>();
  return {
    name: 'webPubSubFunctionsThrottleBudget',
    async sendRequest(request, next): Promise<PipelineResponse> {
      const now = Date.now();
      // The SDK sends the same request object again when it retries, so its first sighting is the call's start.
      const start = started.get(request) ?? now;
      started.set(request, start);
      const response = await next(request);
      const wait = retryAfterMs(response.status, response.headers, Date.now());
      if (wait !== undefined) {
        const left = start + budgetMs - Date.now();
        if (wait + MIN_ATTEMPT_MS > left) {
          throw new ServiceThrottledError(
            response.status,
            Math.max(1, Math.ceil(wait / 1000)),
            response.headers.get('x-ms-request-id'),
          );
        }
      }
      return response;
    },
  };
}

/** Client options that give every call at most one retry and keep throttling waits inside `budgetMs`. */
export function serviceClientOptions(budgetMs: number): WebPubSubServiceClientOptions {
  return {
    retryOptions: {
      maxRetries: SERVICE_MAX_RETRIES,
      retryDelayInMs: RETRY_DELAY_MS,
      maxRetryDelayInMs: RETRY_DELAY_MS,
    },
    additionalPolicies: [{ policy: throttleBudgetPolicy(budgetMs), position: 'perRetry' }],
  };
}

export interface ServiceDeadline {
  /** Aborts the call when the budget is spent; `aborted` says so afterwards. */
  readonly signal: AbortSignal;
  /** Stops the clock once the call is over, so no timer outlives its request. */
  dispose(): void;
}

/** The deadline of one call, armed now. */
export function serviceDeadline(budgetMs: number): ServiceDeadline {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DOMException(`The call took longer than ${budgetMs} ms.`, 'TimeoutError'));
  }, budgetMs);
  // A pending deadline must not keep a draining worker alive.
  timer.unref();
  return { signal: controller.signal, dispose: () => clearTimeout(timer) };
}
