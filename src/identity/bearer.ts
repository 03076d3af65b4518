import { ProblemError, unauthorized } from '../protocol/errors';
import { claimAt, missingUserId, stringValues, userIdFrom, type IdentityProvider } from './caller';
import type { JwtVerifier } from './jwt';

export interface ClaimMapping {
  /** Claim (or dotted path) with the user id; `sub` for most issuers, `oid` for a stable Entra id. */
  userIdClaim: string;
  roleClaim: string;
  groupClaim: string | undefined;
}

// RFC 6750 §3.1: a rejected token is answered with a challenge naming the error.
const INVALID_TOKEN = { 'www-authenticate': 'Bearer error="invalid_token"' };

/** `Authorization: Bearer <JWT>` from any OpenID Connect issuer, verified by `verify` (jwt.ts). */
export function bearerIdentity(verify: JwtVerifier, mapping: ClaimMapping): IdentityProvider {
  return {
    name: 'bearer',
    async identify(headers) {
      const header = headers.get('authorization');
      if (header === null) return undefined;
      // Split by hand: this runs on every negotiate, and the token is long; jose checks its syntax anyway.
      const text = header.trim();
      const space = text.search(/\s/);
      if ((space < 0 ? text : text.slice(0, space)).toLowerCase() !== 'bearer') return undefined;
      const token = space < 0 ? '' : text.slice(space + 1).trimStart();
      if (token === '' || /\s/.test(token)) {
        const problem = unauthorized(
          'invalid-token',
          'The Authorization header does not hold a bearer token.',
        );
        throw withChallenge(problem);
      }
      let claims: Readonly<Record<string, unknown>>;
      try {
        ({ claims } = await verify(token));
      } catch (error) {
        throw error instanceof ProblemError && error.status === 401 ? withChallenge(error) : error;
      }
      const userId = userIdFrom(claimAt(claims, mapping.userIdClaim));
      if (userId === undefined) throw missingUserId(mapping.userIdClaim, INVALID_TOKEN);
      return {
        userId,
        roles: stringValues(claimAt(claims, mapping.roleClaim)),
        groups: mapping.groupClaim === undefined ? [] : stringValues(claimAt(claims, mapping.groupClaim)),
        via: 'bearer',
      };
    },
  };
}

function withChallenge(problem: ProblemError): ProblemError {
  return new ProblemError(problem.status, problem.code, problem.title, problem.detail, {
    ...problem.headers,
    ...INVALID_TOKEN,
  });
}
