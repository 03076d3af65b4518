import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A stand-in OpenID Connect issuer on loopback (port 0): discovery document, JWKS, and token builders for
 * genuine and forged tokens. Tokens are built with jose (or by hand for what jose refuses to make), never
 * with the code under test.
 */
export const AUDIENCE = 'api://negotiate-tests';
export const KID = 'issuer-key-1';

export type IssuerMode = 'ok' | 'status-500' | 'wrong-issuer';

export interface TestIssuer {
  /** `http://127.0.0.1:<port>`, the `iss` of its tokens; discovery at `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  jwksUri: URL;
  jwks: { keys: JWK[] };
  /** Requests served so far, by path. */
  requests: Map<string, number>;
  mode: IssuerMode;
  publicKeyPem: string;
  signingKey: CryptoKey;
  /** Another RSA key, unknown to the issuer's JWKS. */
  impostorKey: CryptoKey;
  token(options?: TokenOptions): Promise<string>;
  close(): Promise<void>;
}

export interface TokenOptions {
  key?: CryptoKey | Uint8Array;
  alg?: string;
  kid?: string;
  issuer?: string;
  audience?: string | string[];
  subject?: string | null;
  /** Seconds since the epoch; null leaves exp out. */
  expiresAt?: number | null;
  notBefore?: number;
  issuedAt?: number;
  claims?: Record<string, unknown>;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A JWT's payload, read without verification (the test inspects what it was given). */
export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

export function decodeHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const signing = await generateKeyPair('RS256', { extractable: true });
  const impostor = await generateKeyPair('RS256', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(signing.publicKey)), kid: KID, alg: 'RS256', use: 'sig' }] };
  const requests = new Map<string, number>();
  let issuer = '';
  const state = { mode: 'ok' as IssuerMode };

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (state.mode === 'status-500') {
      res.writeHead(500).end('down');
      return;
    }
    if (path === '/.well-known/openid-configuration') {
      json(200, {
        issuer: state.mode === 'wrong-issuer' ? 'https://attacker.example' : issuer,
        jwks_uri: `${issuer}/keys`,
      });
      return;
    }
    if (path === '/keys') {
      json(200, jwks);
      return;
    }
    json(404, { error: 'not found' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUri: new URL(`${issuer}/keys`),
    jwks,
    requests,
    get mode() {
      return state.mode;
    },
    set mode(mode: IssuerMode) {
      state.mode = mode;
    },
    publicKeyPem: await exportSPKI(signing.publicKey),
    signingKey: signing.privateKey,
    impostorKey: impostor.privateKey,
    async token(options: TokenOptions = {}) {
      const jwt = new SignJWT(options.claims ?? {})
        .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? KID, typ: 'JWT' })
        .setIssuedAt(options.issuedAt ?? nowSeconds())
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? AUDIENCE);
      if (options.subject !== null) jwt.setSubject(options.subject ?? 'alice');
      if (options.expiresAt !== null) jwt.setExpirationTime(options.expiresAt ?? nowSeconds() + 600);
      if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
      return jwt.sign(options.key ?? signing.privateKey);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** The labels of forgedTokens, known before any issuer starts (test tables are built at load time). */
export const FORGED_TOKEN_NAMES = [
  'alg none (unsigned)',
  'RS256 header with the signature stripped',
  'signed by another key under the issuer kid',
  'payload altered after signing (sub changed)',
  'HS256 keyed with the issuer public key PEM (algorithm confusion)',
  'HS256 keyed with the JWK modulus (algorithm confusion)',
  'expired an hour ago',
  'not valid for another hour (nbf)',
  'without exp',
  'from another issuer',
  'for another audience',
  'with a kid the issuer does not have',
  'that is not a JWT at all',
] as const;

/**
 * Tokens that must all be refused, each with the reason a verifier should give. Built against `issuer`
 * at call time so that each is fresh.
 */
export function forgedTokens(issuer: TestIssuer): [string, () => Promise<string>][] {
  return [
    [
      'alg none (unsigned)',
      async () => {
        const payload = {
          iss: issuer.issuer,
          aud: AUDIENCE,
          sub: 'alice',
          iat: nowSeconds(),
          exp: nowSeconds() + 600,
        };
        return `${base64url({ alg: 'none', typ: 'JWT', kid: KID })}.${base64url(payload)}.`;
      },
    ],
    [
      'RS256 header with the signature stripped',
      async () => {
        const [header, payload] = (await issuer.token()).split('.');
        return `${header}.${payload}.`;
      },
    ],
    ['signed by another key under the issuer kid', () => issuer.token({ key: issuer.impostorKey })],
    [
      'payload altered after signing (sub changed)',
      async () => {
        const [header, , signature] = (await issuer.token()).split('.');
        const payload = {
          iss: issuer.issuer,
          aud: AUDIENCE,
          sub: 'mallory',
          iat: nowSeconds(),
          exp: nowSeconds() + 600,
        };
        return `${header}.${base64url(payload)}.${signature}`;
      },
    ],
    [
      'HS256 keyed with the issuer public key PEM (algorithm confusion)',
      () => issuer.token({ alg: 'HS256', key: new TextEncoder().encode(issuer.publicKeyPem) }),
    ],
    [
      'HS256 keyed with the JWK modulus (algorithm confusion)',
      () => issuer.token({ alg: 'HS256', key: new TextEncoder().encode(String(issuer.jwks.keys[0]?.n)) }),
    ],
    [
      'expired an hour ago',
      () => issuer.token({ issuedAt: nowSeconds() - 7200, expiresAt: nowSeconds() - 3600 }),
    ],
    ['not valid for another hour (nbf)', () => issuer.token({ notBefore: nowSeconds() + 3600 })],
    ['without exp', () => issuer.token({ expiresAt: null })],
    ['from another issuer', () => issuer.token({ issuer: 'https://login.example.com/attacker' })],
    ['for another audience', () => issuer.token({ audience: 'api://some-other-app' })],
    [
      'with a kid the issuer does not have',
      () => issuer.token({ key: issuer.impostorKey, kid: 'unknown-kid' }),
    ],
    ['that is not a JWT at all', async () => 'not-a-jwt'],
  ];
}
