import { describeError } from '../http/problem';
import type { Logger } from '../http/types';
import { ProblemError } from '../protocol/errors';
import type { ServiceClients } from '../service/clients';
import type { ClientTokenIssuer, Grant, IssuedToken } from './types';

/**
 * Keyless mode: there is no key to sign with, so the service issues the token (`POST
 * /api/hubs/{hub}/:generateToken`) through the hub's long-lived @azure/web-pubsub client, authenticated with
 * managed identity.
 */
export function createServiceTokenIssuer(
  clients: ServiceClients,
  now: () => number = Date.now,
): ClientTokenIssuer {
  return {
    mode: 'keyless',
    async issue(grant: Grant, log: Logger): Promise<IssuedToken> {
      let issued: { token: string; baseUrl: string; url: string };
      try {
        const client = await clients.forHub(grant.hub);
        issued = await client.getClientAccessToken({
          userId: grant.userId,
          roles: grant.roles,
          groups: grant.groups,
          expirationTimeInMinutes: grant.lifetimeMinutes,
          ...(grant.protocol === 'default' ? {} : { clientProtocol: grant.protocol }),
        });
      } catch (error) {
        log.error('the service did not issue a client token', {
          hub: grant.hub,
          error: describeError(error),
        });
        throw serviceFailure(error);
      }
      const exp = expiryOf(issued.token);
      return {
        ...issued,
        expiresOn: new Date(exp === undefined ? now() + grant.lifetimeMinutes * 60_000 : exp * 1000),
      };
    },
  };
}

/** A status from the service is its answer (502); no status means it could not be reached (503, retry). */
function serviceFailure(error: unknown): ProblemError {
  const status =
    typeof error === 'object' && error !== null && 'statusCode' in error ? error.statusCode : undefined;
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
