import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

/**
 * A local OpenID Connect issuer for the push API's bearer mode: a JWKS endpoint on loopback, and tokens
 * signed by jose with its key (or an impostor's), never by our code.
 */

export const PUSH_ISSUER = 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0';
export const PUSH_AUDIENCE = 'api://webpubsub-push';
const KID = 'push-test-key';

export interface TestIssuer {
  jwksUri: string;
  token(options?: TokenOptions): Promise<string>;
  close(): Promise<void>;
}

export interface TokenOptions {
  roles?: unknown;
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Sign with a key the JWKS does not hold. */
  impostor?: boolean;
  extraClaims?: Record<string, unknown>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const signing = await generateKeyPair('RS256', { extractable: true });
  const impostor: { privateKey: CryptoKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(signing.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    jwksUri: `http://127.0.0.1:${port}/discovery/v2.0/keys`,
    async token(options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = { ...options.extraClaims };
      if (options.roles !== undefined) claims.roles = options.roles;
      return new SignJWT({ sub: 'order-service', azp: 'order-service-client', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
        .setIssuer(options.issuer ?? PUSH_ISSUER)
        .setAudience(options.audience ?? PUSH_AUDIENCE)
        .setIssuedAt(now - 60)
        .setExpirationTime(now + (options.expiresIn ?? 600))
        .sign(options.impostor === true ? impostor.privateKey : signing.privateKey);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
