import { identityProviderUnavailable } from './jwt';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * OpenID Connect discovery (OpenID Connect Discovery 1.0 §4): the issuer's signing keys are at the
 * `jwks_uri` of `<issuer>/.well-known/openid-configuration`, and that document must name exactly the same
 * issuer (§4.3), so a misconfigured or hijacked path cannot point us at another issuer's keys. Any failure
 * is a 503 (the identity provider is unavailable), and the next call tries again; a success is remembered
 * for the life of the process. jose does not do discovery, and this is one GET and two checks.
 */
export function discoverJwksUri(issuer: string, timeoutMs = 5000): () => Promise<URL> {
  let found: URL | undefined;
  return async () => {
    if (found !== undefined) return found;
    const location = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let document: unknown;
    try {
      const response = await fetch(location, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      document = await response.json();
    } catch {
      throw identityProviderUnavailable("The token issuer's OpenID configuration could not be retrieved.");
    }
    const fields = (typeof document === 'object' && document !== null ? document : {}) as Record<
      string,
      unknown
    >;
    if (fields.issuer !== issuer) {
      throw identityProviderUnavailable("The token issuer's OpenID configuration names another issuer.");
    }
    let jwksUri: URL;
    try {
      jwksUri = new URL(String(fields.jwks_uri));
    } catch {
      throw identityProviderUnavailable("The token issuer's OpenID configuration has no valid jwks_uri.");
    }
    if (
      jwksUri.protocol !== 'https:' &&
      !(jwksUri.protocol === 'http:' && LOOPBACK.has(jwksUri.hostname.toLowerCase()))
    ) {
      throw identityProviderUnavailable("The token issuer's jwks_uri is not an https URL.");
    }
    found = jwksUri;
    return jwksUri;
  };
}
