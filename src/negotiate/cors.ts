import type { CoreResponse } from '../http/types';
import { problemResponse } from '../http/problem';
import { forbidden } from '../protocol/errors';
import type { HeaderSource } from '../protocol/headers';

export interface CorsPolicy {
  /** Headers for an actual request's response (none when the origin is absent or not allowed). */
  headersFor(origin: string | null): Record<string, string>;
  /** The answer to an OPTIONS request (a CORS preflight, or a plain OPTIONS). */
  preflight(headers: HeaderSource): CoreResponse;
}

const METHODS = 'GET, POST';
const ALLOWED_METHODS = new Set(['GET', 'POST']);
const ALLOWED_HEADERS = 'authorization, content-type';
const MAX_AGE_SECONDS = '600';

/**
 * CORS for a browser-facing endpoint. Listed origins are echoed with credentials allowed (App Service
 * Authentication rides on a cookie); `*` allows any origin and then never with credentials, as the Fetch
 * standard requires. A disallowed origin's actual request is still answered, without CORS headers, so its
 * page cannot read the answer; its preflight is refused outright with a reason.
 */
export function createCorsPolicy(allowed: readonly string[]): CorsPolicy {
  const any = allowed.includes('*');
  const origins = new Set(allowed.filter((origin) => origin !== '*'));

  function headersFor(origin: string | null): Record<string, string> {
    if (any) return { 'access-control-allow-origin': '*' };
    if (origin === null) return {};
    if (!origins.has(origin)) return { vary: 'Origin' };
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    };
  }

  return {
    headersFor,
    preflight(headers) {
      const origin = headers.get('origin');
      const method = headers.get('access-control-request-method');
      if (origin === null || method === null) {
        return { status: 204, headers: { allow: `${METHODS}, OPTIONS` } };
      }
      const cors = headersFor(origin);
      if (cors['access-control-allow-origin'] === undefined) {
        return withHeaders(
          problemResponse(
            forbidden('origin-not-allowed', `Origin ${JSON.stringify(origin)} may not call this endpoint.`),
          ),
          cors,
        );
      }
      if (!ALLOWED_METHODS.has(method.trim().toUpperCase())) {
        return withHeaders(
          problemResponse(forbidden('method-not-allowed', `Only ${METHODS} may be used across origins.`)),
          cors,
        );
      }
      return {
        status: 204,
        headers: {
          ...cors,
          'access-control-allow-methods': METHODS,
          'access-control-allow-headers': ALLOWED_HEADERS,
          'access-control-max-age': MAX_AGE_SECONDS,
        },
      };
    },
  };
}

function withHeaders(response: CoreResponse, headers: Record<string, string>): CoreResponse {
  return { ...response, headers: { ...headers, ...response.headers, 'cache-control': 'no-store' } };
}
