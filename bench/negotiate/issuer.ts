import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AUDIENCE } from './fixture';

// Distinct signed-in callers, each presenting its own token again and again, as browsers do on every
// connect and reconnect; fewer than our verified-token cache holds, as on an instance with that many users.
export const CALLERS = 1000;

export interface Issuer {
  issuer: string;
  jwks: string;
  tokens: string[];
  forged: string;
  close(): Promise<void>;
}

/** The callers' OpenID Connect issuer: keys made here with jose, served over loopback HTTP for discovery. */
export async function startIssuer(): Promise<Issuer> {
  const jose = await import('jose');
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256');
  const jwks = JSON.stringify({
    keys: [{ ...(await jose.exportJWK(publicKey)), kid: 'bench-key', alg: 'RS256', use: 'sig' }],
  });
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
    } else if (req.url === '/keys') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const now = Math.floor(Date.now() / 1000);
  const tokens = await Promise.all(
    Array.from({ length: CALLERS }, (_, i) =>
      new jose.SignJWT({ name: `User ${i}` })
        .setProtectedHeader({ alg: 'RS256', kid: 'bench-key', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(AUDIENCE)
        .setSubject(`user-${i}`)
        .setIssuedAt(now)
        .setExpirationTime(now + 2 * 3600)
        .sign(privateKey),
    ),
  );
  const [head, body] = (tokens[0] as string).split('.');
  return {
    issuer,
    jwks,
    tokens,
    forged: `${head}.${body}.${'A'.repeat(342)}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
