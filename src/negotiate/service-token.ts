import { describeError } from '../http/problem';
import type { Logger } from '../http/types';
import { ProblemError } from '../protocol/errors';
import type { ServiceClients } from '../service/clients';
import { serviceDeadline, ServiceThrottledError } from '../service/resilience';
import type { ClientTokenIssuer, Grant, IssuedToken } from './types';

/**
 * How long a browser's negotiate may wait for the service, credential and retry included. The clients this
 * issuer uses must be built with `serviceClientOptions` of the same budget, so no retry or Retry-After wait
 * outlives it.
 */
export const NEGOTIATE_SERVICE_BUDGET_MS = 3000;

/**
 * Keyless mode: there is no key to sign with, so the service issues the token (`POST
 * /api/hubs/{hub}/:generateToken`) through the hub's long-lived @azure/web-pubsub client, authenticated with
 * managed identity.
 */
export function createServiceTokenIssuer(
  clients: ServiceClients,
  now: () => number = Date.now,
  budgetMs: number = NEGOTIATE_SERVICE_BUDGET_MS,
): ClientTokenIssuer {
  return {
    mode: 'keyless',
    async issue(grant: Grant, log: Logger): Promise<IssuedToken> {
      let issued: { token: string; baseUrl: string; url: string };
      const deadline = serviceDeadline(budgetMs);
      try {
        const client = await clients.forHub(grant.hub);
        issued = await client.getClientAccessToken({
          userId: grant.userId,
          roles: grant.roles,
          groups: grant.groups,
          expirationTimeInMinutes: grant.lifetimeMinutes,
          ...(grant.protocol === 'default' ? {} : { clientProtocol: grant.protocol }),
          abortSignal: deadline.signal,
        });
      } catch (error) {
        log.error('the service did not issue a client token', {
          hub: grant.hub,
          timedOut: deadline.signal.aborted,
          error: describeError(error),
        });
        throw serviceFailure(error, deadline.signal.aborted, budgetMs);
      } finally {
        deadline.dispose();
      }
      const exp = expiryOf(issued.token);
      return {
        ...issued,
        expiresOn: new Date(exp === undefined ? now() + grant.lifetimeMinutes * 60_000 : exp * 1000),
      };
    },
  };
}

/**
 * Honest statuses for a browser that will retry: the service busy, failing, unreachable or too slow is 503
 * with Retry-After (the same call may work shortly); any other refusal (our identity or role is wrong) is
 * 502, which no retry will fix.
 */
function serviceFailure(error: unknown, timedOut: boolean, budgetMs: number): ProblemError {
  if (timedOut) {
    return new ProblemError(
      503,
      'service-timeout',
      'Service unavailable',
      `Azure Web PubSub did not issue a client token within ${budgetMs} ms.`,
      { 'retry-after': '5' },
    );
  }
  if (error instanceof ServiceThrottledError) {
    return new ProblemError(
      503,
      'service-busy',
      'Service unavailable',
      `Azure Web PubSub is throttling (status ${error.statusCode}).`,
      { 'retry-after': String(error.retryAfterSeconds) },
    );
  }
  const status =
    typeof error === 'object' && error !== null && 'statusCode' in error ? error.statusCode : undefined;
  if (typeof status === 'number' && (status === 408 || status === 429 || status >= 500)) {
    return new ProblemError(
      503,
      'service-unavailable',
      'Service unavailable',
      `Azure Web PubSub could not issue a client token now (status ${status}).`,
      { 'retry-after': '5' },
    );
  }
  if (typeof status === 'number') {
    return new ProblemError(
      502,
      'service-error',
      'Bad gateway',
      `Azure Web PubSub refused to issue a client token (status ${status}).`,
    );
  }
  return new ProblemError(
    503,
    'service-unavailable',
    'Service unavailable',
    'Azure Web PubSub could not be reached to issue a client token.',
    { 'retry-after': '5' },
  );
}

/** The `exp` of the service's token, read without verifying it: it comes straight from the service. */
function expiryOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}
