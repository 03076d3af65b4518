import { unauthorized } from '../protocol/errors';
import { decodeUtf8HeaderValue, type HeaderSource } from '../protocol/headers';
import type { IdentityProvider } from './caller';

export interface AppServiceIdentityOptions {
  /** `WEBSITE_AUTH_ENABLED=True`: the platform authenticates requests and strips these headers from clients. */
  platformAuthEnabled: boolean;
  /** Claim type whose values are roles, besides the principal's own `role_typ`. */
  roleClaim: string;
  groupClaim: string | undefined;
}

const PRINCIPAL = 'x-ms-client-principal';
const PRINCIPAL_ID = 'x-ms-client-principal-id';
const PRINCIPAL_HEADERS = [
  PRINCIPAL,
  PRINCIPAL_ID,
  'x-ms-client-principal-name',
  'x-ms-client-principal-idp',
];

interface PrincipalClaim {
  typ: string;
  val: string;
}

interface Principal {
  claims: PrincipalClaim[];
  roleType: string | undefined;
}

/**
 * App Service Authentication ("Easy Auth"): the platform signs the user in and passes the principal to the
 * app in `X-MS-CLIENT-PRINCIPAL*` headers, removing any a client sent. Those headers prove something only
 * when the platform is really in front: without `WEBSITE_AUTH_ENABLED`, anyone can send them, so a request
 * that carries them is refused rather than read.
 */
export function appServiceIdentity(options: AppServiceIdentityOptions): IdentityProvider {
  return {
    name: 'appservice',
    identify(headers) {
      if (!PRINCIPAL_HEADERS.some((name) => headers.get(name) !== null)) return undefined;
      if (!options.platformAuthEnabled) {
        throw unauthorized(
          'untrusted-principal',
          'X-MS-CLIENT-PRINCIPAL headers are only trusted when App Service Authentication is enabled for this app (WEBSITE_AUTH_ENABLED).',
        );
      }
      const userId = headers.get(PRINCIPAL_ID)?.trim();
      if (!userId) throw invalidPrincipal('the X-MS-CLIENT-PRINCIPAL-ID header is missing or empty');
      const principal = decodePrincipal(headers);
      const roleTypes = new Set([options.roleClaim, ...(principal.roleType ? [principal.roleType] : [])]);
      const roles: string[] = [];
      const groups: string[] = [];
      for (const claim of principal.claims) {
        if (roleTypes.has(claim.typ)) roles.push(claim.val);
        if (claim.typ === options.groupClaim) groups.push(claim.val);
      }
      return { userId: decodeUtf8HeaderValue(userId), roles, groups, via: 'appservice' };
    },
  };
}

function invalidPrincipal(why: string) {
  return unauthorized('invalid-principal', `The App Service principal is not usable: ${why}.`);
}

/** `X-MS-CLIENT-PRINCIPAL`: base64 of `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`. */
function decodePrincipal(headers: HeaderSource): Principal {
  const encoded = headers.get(PRINCIPAL)?.trim();
  if (!encoded) throw invalidPrincipal('the X-MS-CLIENT-PRINCIPAL header is missing');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw invalidPrincipal('X-MS-CLIENT-PRINCIPAL is not base64');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    throw invalidPrincipal('X-MS-CLIENT-PRINCIPAL is not base64 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidPrincipal('X-MS-CLIENT-PRINCIPAL is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  const rawClaims = record.claims ?? [];
  if (!Array.isArray(rawClaims)) throw invalidPrincipal('its claims are not a list');
  const claims: PrincipalClaim[] = [];
  for (const claim of rawClaims) {
    const entry = (typeof claim === 'object' && claim !== null ? claim : {}) as Record<string, unknown>;
    if (typeof entry.typ !== 'string' || typeof entry.val !== 'string') {
      throw invalidPrincipal('a claim lacks a string typ or val');
    }
    claims.push({ typ: entry.typ, val: entry.val });
  }
  return { claims, roleType: typeof record.role_typ === 'string' ? record.role_typ : undefined };
}
