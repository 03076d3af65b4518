import { ProblemError, unauthorized } from '../protocol/errors';
import { RecentMemory } from '../protocol/recent-memory';

/** A JSON Web Key Set as an issuer publishes it (jose's own type lives in an ESM-only module). */
export interface JsonWebKeySet {
  keys: Record<string, unknown>[];
}

export interface JwtVerifierOptions {
  issuers: readonly string[];
  audience: string | readonly string[];
  /**
   * Where the issuer publishes its signing keys: a URL, or a function that finds it on first use (OpenID
   * Connect discovery, see oidc.ts). A failure to find it is a 503 and is retried on the next token.
   */
  jwksUri?: URL | (() => Promise<URL>);
  /** A fixed key set instead of a remote one (keys pinned in configuration, tests). */
  jwks?: JsonWebKeySet;
  /** Asymmetric algorithms only: a shared-secret algorithm here would invite HS/RS confusion. */
  algorithms?: readonly string[];
  clockToleranceSeconds?: number;
  /**
   * Remember verified tokens, keyed by the whole token, so a caller that presents the same token again (a
   * browser negotiating on every connect and reconnect) costs a lookup instead of a signature check. `exp` is
   * still checked on every use; an entry lives at most `maxAgeSeconds` (default 600, the time jose keeps a
   * remote key set), so a key the issuer withdraws stops counting no later than it would without the cache.
   * Only successes are remembered. Off by default.
   */
  cache?: { maxEntries: number; maxAgeSeconds?: number };
  /** The clock, in milliseconds since the epoch (tests). */
  now?: () => number;
}

export interface VerifiedToken {
  subject: string | undefined;
  claims: Readonly<Record<string, unknown>>;
}

export type JwtVerifier = (token: string) => Promise<VerifiedToken>;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export function identityProviderUnavailable(detail: string): ProblemError {
  return new ProblemError(503, 'identity-provider-unavailable', 'Service unavailable', detail, {
    'retry-after': '5',
  });
}

interface CacheEntry {
  verified: VerifiedToken;
  /** The instant (ms) after which the entry no longer counts: exp plus tolerance, or the maximum age. */
  validUntil: number;
}

/**
 * Verifies bearer JWTs against an issuer's JWKS (signature, issuer, audience, lifetime). jose is loaded on
 * first use so a deployment that never validates tokens never pays for it; its remote key set caches keys
 * and refetches on an unknown `kid`, with a cooldown so forged kids cannot hammer the issuer. `alg: none` and
 * every symmetric algorithm are outside the allow-list, so neither an unsigned token nor one "signed" with
 * the issuer's public key as an HMAC secret (algorithm confusion) can pass.
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const algorithms = [...(options.algorithms ?? ASYMMETRIC)];
  if (algorithms.some((alg) => !ASYMMETRIC.includes(alg))) {
    throw new Error(`Only asymmetric JWT algorithms are accepted (${ASYMMETRIC.join(', ')})`);
  }
  if ((options.jwksUri === undefined) === (options.jwks === undefined)) {
    throw new Error('Give the verifier either jwksUri or jwks');
  }
  const now = options.now ?? Date.now;
  const clockTolerance = options.clockToleranceSeconds ?? 60;
  const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];
  const cache =
    options.cache && options.cache.maxEntries > 0
      ? new RecentMemory<string, CacheEntry>(Math.max(options.cache.maxEntries, 2))
      : undefined;
  const maxAgeMs = (options.cache?.maxAgeSeconds ?? 600) * 1000;
  let ready: Promise<JwtVerifier> | undefined;

  async function load(): Promise<JwtVerifier> {
    const { createLocalJWKSet, createRemoteJWKSet, jwtVerify } = await import('jose');
    let keys: Parameters<typeof jwtVerify>[1];
    if (options.jwks !== undefined) {
      keys = createLocalJWKSet(options.jwks);
    } else {
      const source = options.jwksUri as URL | (() => Promise<URL>);
      const url = typeof source === 'function' ? await source() : source;
      keys = createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 30_000 });
    }
    return async (token) => {
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: [...options.issuers],
          audience,
          algorithms,
          clockTolerance,
          currentDate: new Date(now()),
          requiredClaims: ['exp'],
        });
        return { subject: payload.sub, claims: payload };
      } catch (error) {
        const code = error instanceof Error && 'code' in error ? String(error.code) : undefined;
        // ERR_JOSE_GENERIC is what jose throws when the key set answers non-200 or non-JSON.
        if (
          code === undefined ||
          code === 'ERR_JOSE_GENERIC' ||
          code === 'ERR_JWKS_TIMEOUT' ||
          code === 'ERR_JWKS_INVALID'
        ) {
          // The issuer's keys could not be had: not the caller's fault, and worth a retry.
          throw identityProviderUnavailable("The token issuer's signing keys could not be retrieved.");
        }
        // The reason helps whoever debugs a rejected caller; it never includes the token itself.
        throw unauthorized('invalid-token', `The bearer token was rejected (${code}).`);
      }
    };
  }

  function remember(token: string, verified: VerifiedToken, at: number): void {
    if (cache === undefined) return;
    const exp = verified.claims.exp as number; // required and checked by jwtVerify
    const validUntil = Math.min((exp + clockTolerance) * 1000, at + maxAgeMs);
    // Bounded, least recently used forgotten first: no caller can grow it.
    cache.set(token, { verified, validUntil });
  }

  return async (token) => {
    if (cache !== undefined) {
      const hit = cache.get(token);
      if (hit !== undefined) {
        if (now() < hit.validUntil) return hit.verified;
        cache.delete(token);
      }
    }
    if (ready === undefined) {
      const loading = load();
      ready = loading;
      // A key set that could not be located (discovery failed) is looked for again on the next token.
      loading.catch(() => {
        if (ready === loading) ready = undefined;
      });
    }
    const verified = await (await ready)(token);
    remember(token, verified, now());
    return verified;
  };
}
