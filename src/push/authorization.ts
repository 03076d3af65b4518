import type { CoreRequest } from '../http/types';
import { claimAt } from '../identity/caller';
import type { VerifiedToken } from '../identity/jwt';
import { ProblemError } from '../protocol/errors';

/**
 * Who may call a push route. The Functions platform checks the function key first (authLevel function on
 * every route); in production a bearer token from Entra ID (or any OIDC issuer) carrying the route's app role
 * is required as well, so that a leaked function key alone is not enough.
 */
export interface PushAuthorizer {
  readonly name: 'function-key' | 'bearer-role';
  /** Resolves when the caller may perform an operation needing `role`; throws a 401/403/503 problem otherwise. */
  authorize(request: CoreRequest, role: string): Promise<void>;
}

/** No bearer token configured: the function key the platform checked is the only credential. */
export const functionKeyAuthorizer: PushAuthorizer = {
  name: 'function-key',
  authorize: () => Promise.resolve(),
};

const CHALLENGE = 'Bearer realm="webpubsub-push"';

function unauthorized(code: string, detail: string, error?: string): ProblemError {
  const challenge = error === undefined ? CHALLENGE : `${CHALLENGE}, error="${error}"`;
  return new ProblemError(401, code, 'Unauthorized', detail, { 'www-authenticate': challenge });
}

/**
 * App roles from the token: Entra puts them in `roles` as an array; some issuers use a space-separated string
 * or a nested claim (`realm_access.roles`).
 */
function rolesOf(claims: Readonly<Record<string, unknown>>, claim: string): string[] {
  const value = claimAt(claims, claim);
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === 'string');
  if (typeof value === 'string') return value.split(' ').filter((role) => role !== '');
  return [];
}

export function bearerRoleAuthorizer(
  verify: (token: string) => Promise<VerifiedToken>,
  roleClaim: string,
): PushAuthorizer {
  return {
    name: 'bearer-role',
    async authorize(request, role) {
      const header = request.headers.get('authorization');
      if (header === null || header.trim() === '') {
        throw unauthorized('missing-token', `A bearer token carrying the app role "${role}" is required.`);
      }
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
      if (!match?.[1]) {
        throw unauthorized(
          'invalid-authorization-header',
          'The Authorization header must be "Bearer <token>".',
          'invalid_request',
        );
      }
      // 401 invalid-token or 503 when the issuer's keys are unreachable; the token itself is never logged.
      let verified: VerifiedToken;
      try {
        verified = await verify(match[1]);
      } catch (error) {
        if (error instanceof ProblemError && error.status === 401) {
          throw unauthorized(error.code, error.detail, 'invalid_token');
        }
        throw error;
      }
      if (!rolesOf(verified.claims, roleClaim).includes(role)) {
        throw new ProblemError(
          403,
          'missing-role',
          'Forbidden',
          `The bearer token does not carry the app role "${role}" that this operation needs.`,
          { 'www-authenticate': `${CHALLENGE}, error="insufficient_scope"` },
        );
      }
    },
  };
}
