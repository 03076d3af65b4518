import { createSecretKey, type KeyObject } from 'node:crypto';
import { RecentMemory } from '../src/protocol/recent-memory';

/**
 * HS256 access tokens, keyed with the UTF-8 bytes of an access key (never base64-decoded), as the service
 * and both SDKs use them. jose does the JWT work (algorithm pinning, signature, exp/nbf with a clock
 * tolerance): the emulator's token rate is tiny next to its message rate, so a hand-written verifier's
 * speed would buy nothing. jose is ESM-only, so it is loaded once, before the server listens.
 * Audience matching is ours: the service accepts several spellings of one URL (scheme, query, encoding),
 * which no audience option of a JWT library expresses.
 */
export type Claims = Readonly<Record<string, unknown>>;

export interface TokenService {
  /** The claims of a token signed by any configured key and not expired; undefined otherwise. */
  verify(token: string): Promise<Claims | undefined>;
  /** A token signed with the primary key. */
  sign(claims: Record<string, unknown>, expiresInSeconds: number): Promise<string>;
}

type Jose = typeof import('jose');

// The official emulator allows five minutes of clock skew; the service's tolerance is not documented.
const CLOCK_TOLERANCE_SECONDS = 300;
// @azure/web-pubsub signs a token per request with a one-second `iat`, so a busy sender repeats the same
// token many times: verified tokens are remembered (until they expire) instead of re-verified.
const REMEMBERED_TOKENS = 1000;

export async function createTokenService(accessKeys: readonly string[]): Promise<TokenService> {
  const jose: Jose = await import('jose');
  const keys: KeyObject[] = accessKeys.map((key) => createSecretKey(Buffer.from(key, 'utf8')));
  const primary = keys[0] as KeyObject;
  const verified = new RecentMemory<string, Claims>(REMEMBERED_TOKENS);
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known !== undefined) {
        if ((known.exp as number) + CLOCK_TOLERANCE_SECONDS > Date.now() / 1000) return known;
        verified.delete(token);
      }
      for (const key of keys) {
        try {
          const { payload } = await jose.jwtVerify(token, key, {
            algorithms: ['HS256'],
            clockTolerance: CLOCK_TOLERANCE_SECONDS,
            requiredClaims: ['exp'],
          });
          verified.set(token, payload);
          return payload;
        } catch (error) {
          // Another key may have signed it; any other fault (expiry, malformed) is final.
          if (error instanceof jose.errors.JWSSignatureVerificationFailed) continue;
          return undefined;
        }
      }
      return undefined;
    },
    async sign(claims, expiresInSeconds) {
      const now = Math.floor(Date.now() / 1000);
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt(now)
        .setExpirationTime(now + expiresInSeconds)
        .sign(primary);
    },
  };
}

/** The bearer token of a request, from `Authorization: Bearer` or (clients only) the query. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

const AUDIENCE = /^(?:https?|wss?):\/\/([^/?#]+)([^#]*)$/i;

function audiences(claims: Claims): string[] {
  const { aud } = claims;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((entry): entry is string => typeof entry === 'string');
  return [];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * True when some `aud` names this resource: scheme http(s)/ws(s), an authority the request could have
 * used, and a path (and query) equal to one of `targets`. Case-insensitive, as the service compares.
 */
function audienceMatches(
  claims: Claims,
  authorities: readonly string[],
  targets: readonly string[],
): boolean {
  const hosts = authorities.map((authority) => authority.toLowerCase());
  const wanted = new Set(
    targets.flatMap((target) => [target.toLowerCase(), safeDecode(target).toLowerCase()]),
  );
  for (const aud of audiences(claims)) {
    const match = AUDIENCE.exec(aud);
    if (!match) continue;
    const authority = (match[1] ?? '').toLowerCase();
    const rest = match[2] ?? '';
    if (!hosts.includes(authority)) continue;
    if (wanted.has(rest.toLowerCase()) || wanted.has(safeDecode(rest).toLowerCase())) return true;
  }
  return false;
}

/** Client tokens name `<endpoint>/client/hubs/<hub>` (hub case-insensitive). */
export function clientAudienceMatches(claims: Claims, authorities: readonly string[], hub: string): boolean {
  return audienceMatches(claims, authorities, [`/client/hubs/${hub}`]);
}

/**
 * REST tokens name the request URL. The JS SDK signs the full URL as sent; other clients leave the query
 * out or sign it decoded: all are accepted, as the service does.
 */
export function restAudienceMatches(
  claims: Claims,
  authorities: readonly string[],
  requestTarget: string,
): boolean {
  const query = requestTarget.indexOf('?');
  const path = query === -1 ? requestTarget : requestTarget.slice(0, query);
  return audienceMatches(claims, authorities, [requestTarget, path]);
}
