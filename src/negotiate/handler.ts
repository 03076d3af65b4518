import type { Identify } from '../identity/caller';
import { problemResponse } from '../http/problem';
import type { CoreRequest, CoreResponse, Logger } from '../http/types';
import { ProblemError } from '../protocol/errors';
import type { CorsPolicy } from './cors';
import type { NegotiatePolicy } from './policy';
import type { ClientTokenIssuer } from './types';

export interface NegotiateDependencies {
  identify: Identify;
  policy: NegotiatePolicy;
  issuer: ClientTokenIssuer;
  cors: CorsPolicy;
}

export type NegotiateHandler = (request: CoreRequest, log: Logger) => Promise<CoreResponse>;

/** The body of a successful negotiate. */
export interface NegotiateResult {
  url: string;
  baseUrl: string;
  token: string;
  /** ISO 8601. */
  expiresOn: string;
  userId: string;
  hub: string;
  groups: string[];
  roles: string[];
}

const NO_STORE = { 'cache-control': 'no-store' };

/**
 * `GET|POST /api/negotiate[?hub=][&groups=a,b][&protocol=default|mqtt|socketio]`: a verified caller gets a
 * client access URL carrying exactly what policy grants. Order matters: the caller is identified before the
 * query is even looked at, so an anonymous prober learns nothing about hubs or groups. The answer (a
 * bearer credential) is never cached, and errors carry CORS headers so an allowed page can read the reason.
 * POST takes the same query parameters; its body is not read.
 */
export function createNegotiateHandler(deps: NegotiateDependencies): NegotiateHandler {
  // Tokens issued within the same second expire together. Formatting a date costs V8 a C++ call through
  // printf (~8,000 instructions, a sixteenth of the handler's work), so the last one is kept.
  let lastExpiry = { time: Number.NaN, iso: '' };
  const isoOf = (date: Date): string => {
    const time = date.getTime();
    if (time !== lastExpiry.time) lastExpiry = { time, iso: date.toISOString() };
    return lastExpiry.iso;
  };
  return async (request, log) => {
    if (request.method === 'OPTIONS') return deps.cors.preflight(request.headers);
    const cors = deps.cors.headersFor(request.headers.get('origin'));
    try {
      if (request.method !== 'GET' && request.method !== 'POST') {
        throw new ProblemError(405, 'method-not-allowed', 'Method not allowed', 'Use GET or POST.', {
          allow: 'GET, POST, OPTIONS',
        });
      }
      const caller = await deps.identify(request.headers);
      const grant = deps.policy.decide(queryOf(request.url), caller);
      const issued = await deps.issuer.issue(grant, log);
      log.info('client access token issued', {
        via: caller.via,
        hub: grant.hub,
        protocol: grant.protocol,
        groups: grant.groups.length,
        roles: grant.roles.length,
      });
      const result: NegotiateResult = {
        url: issued.url,
        baseUrl: issued.baseUrl,
        token: issued.token,
        expiresOn: isoOf(issued.expiresOn),
        userId: grant.userId,
        hub: grant.hub,
        groups: grant.groups,
        roles: grant.roles,
      };
      return {
        status: 200,
        headers: { ...cors, 'content-type': 'application/json; charset=utf-8', ...NO_STORE },
        body: negotiateResultJson(result),
      };
    } catch (error) {
      if (error instanceof ProblemError && error.status < 500) {
        // Refusals are logged by their code; the request's credentials and query never are.
        log.warn('negotiate refused', { status: error.status, code: error.code });
      }
      const response = problemResponse(error, log);
      return { ...response, headers: { ...cors, ...response.headers, ...NO_STORE } };
    }
  };
}

/**
 * `JSON.stringify(result)`, character for character, in a third fewer instructions. The answer holds the
 * client token twice (alone and in the URL), ~1.3 KB of base64url, and Node 20's JSON.stringify
 * inspects such strings one character at a time: 47,000 instructions an answer under callgrind, a fifth of a
 * whole negotiate over HTTP; this, 31,000. A string with nothing to escape is quoted as it is; anything else
 * (a user id with a quote, a token from the service with a control character) goes through JSON.stringify.
 * The unit tests hold it to JSON.stringify's output for every kind of character.
 */
export function negotiateResultJson(result: NegotiateResult): string {
  return (
    `{"url":${jsonString(result.url)},"baseUrl":${jsonString(result.baseUrl)},` +
    `"token":${jsonString(result.token)},"expiresOn":${jsonString(result.expiresOn)},` +
    `"userId":${jsonString(result.userId)},"hub":${jsonString(result.hub)},` +
    `"groups":${jsonStrings(result.groups)},"roles":${jsonStrings(result.roles)}}`
  );
}

// What JSON.stringify escapes or must check: control characters, the quote, the backslash, and surrogates
// (a lone one is written as \uXXXX).
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be found
const NEEDS_ESCAPING = /[\u0000-\u001f"\\\ud800-\udfff]/;

function jsonString(value: string): string {
  return NEEDS_ESCAPING.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function jsonStrings(values: readonly string[]): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) text += (i === 0 ? '' : ',') + jsonString(values[i] as string);
  return `${text}]`;
}

/**
 * The query of a request URL without building a URL: the host hands us an absolute, already-parsed URL, and
 * `new URL()` (origin, host, path normalisation) was a visible share of a negotiate's CPU in the profile.
 * URLSearchParams decodes the part after `?` exactly as URL.searchParams does.
 */
export function queryOf(url: string): URLSearchParams {
  const start = url.indexOf('?');
  if (start === -1) return new URLSearchParams();
  const end = url.indexOf('#', start);
  // The `?` is passed along because URLSearchParams strips one leading `?`: a query that itself begins with
  // one (`??a=1`) then keeps it, as URL.searchParams does.
  return new URLSearchParams(end === -1 ? url.slice(start) : url.slice(start, end));
}
