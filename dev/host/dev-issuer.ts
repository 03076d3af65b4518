import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A development OpenID Connect issuer, served by the local host only (never by the deployed app): its own
 * discovery document, its JWKS and a token endpoint that signs an RS256 access token for any subject asked
 * for. The app verifies those tokens exactly as it verifies Entra ID's or Auth0's in production (discovery,
 * JWKS, issuer, audience, lifetime, signature), so the bearer path is exercised locally without Azure.
 *
 *   GET  /.dev-issuer/.well-known/openid-configuration
 *   GET  /.dev-issuer/jwks
 *   POST /.dev-issuer/token   {"sub":"alice","roles":[...],"groups":[...],"name":"Alice","aud":"...",
 *                              "expiresInSeconds":3600,"claims":{...}}  (JSON, or form fields sub/aud)
 *        -> {"access_token":"<jwt>","token_type":"Bearer","expires_in":3600}
 *
 * The signing key is made per process and never written anywhere: tokens die with the host.
 */
export const DEV_ISSUER_PATH = '/.dev-issuer';

export interface DevIssuerOptions {
  /** The issuer URL (`iss`), e.g. http://127.0.0.1:7071/.dev-issuer. */
  issuer: string;
  /** The audience of tokens whose request names none (read on each request: settings may change). */
  defaultAudience: () => string | undefined;
}

export interface DevIssuer {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  /** Answers a request under DEV_ISSUER_PATH. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

type Jose = typeof import('jose');

interface SigningKey {
  jose: Jose;
  privateKey: Parameters<InstanceType<Jose['SignJWT']>['sign']>[0];
  jwk: Record<string, unknown>;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_LIFETIME_SECONDS = 24 * 3600;

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createDevIssuer(options: DevIssuerOptions): DevIssuer {
  const issuer = options.issuer.replace(/\/+$/, '');
  const jwksUri = `${issuer}/jwks`;
  const tokenEndpoint = `${issuer}/token`;
  let key: Promise<SigningKey> | undefined;

  async function signingKey(): Promise<SigningKey> {
    const jose = await import('jose');
    const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
    return { jose, privateKey, jwk };
  }

  async function issueToken(req: IncomingMessage): Promise<Record<string, unknown>> {
    const request = await readTokenRequest(req);
    const sub = request.sub ?? request.subject;
    if (typeof sub !== 'string' || sub.trim() === '' || sub.length > 256) {
      throw new RequestError(
        400,
        'sub (the user to sign in as) must be a non-empty string of at most 256 characters',
      );
    }
    const aud = request.aud ?? options.defaultAudience();
    if (typeof aud !== 'string' || aud === '') {
      throw new RequestError(400, 'aud is required (or set NegotiateAudience)');
    }
    const lifetime = request.expiresInSeconds ?? 3600;
    if (
      typeof lifetime !== 'number' ||
      !Number.isInteger(lifetime) ||
      lifetime < 1 ||
      lifetime > MAX_LIFETIME_SECONDS
    ) {
      throw new RequestError(
        400,
        `expiresInSeconds must be a whole number from 1 to ${MAX_LIFETIME_SECONDS}`,
      );
    }
    const extra = request.claims ?? {};
    if (typeof extra !== 'object' || Array.isArray(extra)) {
      throw new RequestError(400, 'claims must be a JSON object');
    }
    const claims: Record<string, unknown> = { ...(extra as Record<string, unknown>) };
    for (const name of ['roles', 'groups'] as const) {
      const value = request[name];
      if (value === undefined) continue;
      if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
        throw new RequestError(400, `${name} must be a list of strings`);
      }
      claims[name] = value;
    }
    if (typeof request.name === 'string') claims.name = request.name;

    key ??= signingKey();
    const { jose, privateKey, jwk } = await key;
    const now = Math.floor(Date.now() / 1000);
    const token = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: jwk.kid as string })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience(aud)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(privateKey);
    return { access_token: token, token_type: 'Bearer', expires_in: lifetime };
  }

  async function route(req: IncomingMessage, path: string): Promise<[number, unknown]> {
    const method = (req.method ?? 'GET').toUpperCase();
    if (path === '/.well-known/openid-configuration' && method === 'GET') {
      return [
        200,
        {
          issuer,
          jwks_uri: jwksUri,
          token_endpoint: tokenEndpoint,
          response_types_supported: ['token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          grant_types_supported: ['urn:dev-issuer:any-subject'],
        },
      ];
    }
    if (path === '/jwks' && method === 'GET') {
      key ??= signingKey();
      return [200, { keys: [(await key).jwk] }];
    }
    if (path === '/token' && method === 'POST') return [200, await issueToken(req)];
    return [404, { error: 'not_found' }];
  }

  return {
    issuer,
    tokenEndpoint,
    async handle(req, res, url) {
      // The demo page may be served from anywhere on this machine; these documents are public anyway.
      const cors = {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'content-type',
      };
      if ((req.method ?? 'GET').toUpperCase() === 'OPTIONS') {
        res.writeHead(204, { ...cors, 'content-length': '0' });
        res.end();
        return;
      }
      let status: number;
      let body: unknown;
      try {
        [status, body] = await route(req, url.pathname.slice(DEV_ISSUER_PATH.length));
      } catch (error) {
        if (!(error instanceof RequestError)) throw error;
        [status, body] = [error.status, { error: 'invalid_request', error_description: error.message }];
      }
      const text = JSON.stringify(body);
      res.writeHead(status, {
        ...cors,
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'content-length': String(Buffer.byteLength(text)),
      });
      res.end(text);
    },
  };
}

async function readTokenRequest(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, 'the request body is too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks, size).toString('utf8');
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Answered below.
  }
  throw new RequestError(400, 'the body must be a JSON object (or form fields)');
}
