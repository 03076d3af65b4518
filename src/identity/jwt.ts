import { ProblemError, unauthorized } from '../protocol/errors';

export interface JwtVerifierOptions {
  issuers: readonly string[];
  audience: string;
  jwksUri: URL;
  /** Asymmetric algorithms only: a shared-secret algorithm here would invite HS/RS confusion. */
  algorithms?: readonly string[];
  clockToleranceSeconds?: number;
}

export interface VerifiedToken {
  subject: string | undefined;
  claims: Readonly<Record<string, unknown>>;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * Verifies bearer JWTs against an issuer's JWKS (signature, issuer, audience, lifetime). jose is loaded on
 * first use so a deployment that never validates tokens never pays for it; its remote key set caches keys
 * and refetches on an unknown `kid`, with a cooldown so forged kids cannot hammer the issuer.
 */
export function createJwtVerifier(options: JwtVerifierOptions): (token: string) => Promise<VerifiedToken> {
  const algorithms = [...(options.algorithms ?? ASYMMETRIC)];
  if (algorithms.some((alg) => !ASYMMETRIC.includes(alg))) {
    throw new Error(`Only asymmetric JWT algorithms are accepted (${ASYMMETRIC.join(', ')})`);
  }
  let ready: Promise<(token: string) => Promise<VerifiedToken>> | undefined;

  async function load(): Promise<(token: string) => Promise<VerifiedToken>> {
    const { createRemoteJWKSet, jwtVerify } = await import('jose');
    const keys = createRemoteJWKSet(options.jwksUri, { timeoutDuration: 5000, cooldownDuration: 30_000 });
    return async (token) => {
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: [...options.issuers],
          audience: options.audience,
          algorithms,
          clockTolerance: options.clockToleranceSeconds ?? 60,
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
          throw new ProblemError(
            503,
            'identity-provider-unavailable',
            'Service unavailable',
            "The token issuer's signing keys could not be retrieved.",
            { 'retry-after': '5' },
          );
        }
        // The reason helps whoever debugs a rejected caller; it never includes the token itself.
        throw unauthorized('invalid-token', `The bearer token was rejected (${code}).`);
      }
    };
  }

  return async (token) => {
    ready ??= load();
    return (await ready)(token);
  };
}
