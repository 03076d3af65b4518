import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import {
  bearerAuthenticator,
  functionKeyAuthenticator,
  type EventAuthenticator,
} from '../../src/events/authentication';
import { createWebhook } from '../../src/events/webhook';
import { createJwtVerifier } from '../../src/identity/jwt';
import type { CoreResponse } from '../../src/http/types';
import { createOriginPolicy } from '../../src/protocol/origins';
import {
  bodyText,
  captureLog,
  connectBody,
  coreRequest,
  eventHeaders,
  header,
  ORIGIN,
} from '../support/cloud-events';

/**
 * Keyless mode: the service authenticates to the webhook with an Entra bearer token (managed identity on
 * the event handler), or, without that, the Functions platform's function key. A local JWKS server stands
 * in for Entra; tokens are signed by jose, never by our code.
 */

const ISSUER_V2 = 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0';
const ISSUER_V1 = 'https://sts.windows.net/11111111-2222-3333-4444-555555555555/';
const AUDIENCE = 'api://webpubsub-webhook';
const KID = 'test-key-1';
const TYPE_PREFIX = 'urn:webpubsub-functions:problem:';

type JwksMode = 'ok' | 'status-500' | 'not-json' | 'not-a-jwks' | 'hang-up';

interface JwksServer {
  url: URL;
  requests: number;
  mode: JwksMode;
  close(): Promise<void>;
}

async function startJwksServer(jwks: { keys: JWK[] }): Promise<JwksServer> {
  const state: JwksServer = {
    url: new URL('http://127.0.0.1/'),
    requests: 0,
    mode: 'ok',
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req, res) => {
    state.requests += 1;
    switch (state.mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
        return;
      case 'status-500':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream failure');
        return;
      case 'not-json':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
        return;
      case 'not-a-jwks':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"error":"nope"}');
        return;
      case 'hang-up':
        req.socket.destroy();
        return;
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/discovery/v2.0/keys`);
  state.close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return state;
}

let signing: { privateKey: CryptoKey; publicKey: CryptoKey };
let impostor: { privateKey: CryptoKey; publicKey: CryptoKey };
let publicPem: string;
let jwks: JwksServer;

beforeAll(async () => {
  signing = await generateKeyPair('RS256', { extractable: true });
  impostor = await generateKeyPair('RS256', { extractable: true });
  publicPem = await exportSPKI(signing.publicKey);
  const jwk = { ...(await exportJWK(signing.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  jwks = await startJwksServer({ keys: [jwk] });
});

afterAll(async () => {
  await jwks.close();
});

const now = (): number => Math.floor(Date.now() / 1000);

interface TokenOptions {
  key?: CryptoKey | Uint8Array;
  alg?: string;
  kid?: string;
  issuer?: string;
  audience?: string;
  expiresAt?: number | null;
  notBefore?: number;
}

async function token(options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({ sub: 'webpubsub-service', oid: 'f00dfeed' })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? KID, typ: 'JWT' })
    .setIssuedAt()
    .setIssuer(options.issuer ?? ISSUER_V2)
    .setAudience(options.audience ?? AUDIENCE);
  if (options.expiresAt !== null) jwt.setExpirationTime(options.expiresAt ?? now() + 600);
  if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
  return jwt.sign(options.key ?? signing.privateKey);
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned token, built by hand: jose refuses to produce one for jwtVerify's sake. */
function unsignedToken(): string {
  const header = { alg: 'none', typ: 'JWT', kid: KID };
  const payload = { iss: ISSUER_V2, aud: AUDIENCE, sub: 'webpubsub-service', iat: now(), exp: now() + 600 };
  return `${base64url(header)}.${base64url(payload)}.`;
}

function webhookWith(authenticator: EventAuthenticator) {
  const connect = jest.fn();
  const webhook = createWebhook({
    hubs: ['chat'],
    origins: createOriginPolicy([ORIGIN]),
    authenticators: [authenticator],
    hooks: { connect },
    maxBodyBytes: 4096,
    maxStateBytes: 256,
  });
  return { webhook, connect };
}

function managedIdentityWebhook(jwksUri: URL = jwks.url) {
  const verify = createJwtVerifier({ issuers: [ISSUER_V2, ISSUER_V1], audience: AUDIENCE, jwksUri });
  return webhookWith(
    bearerAuthenticator(async (jwt) => {
      await verify(jwt);
    }),
  );
}

/** A connect as a keyless service sends it: no ce-signature, maybe an Authorization header. */
function connectRequest(authorization?: string, url?: string, extra: Record<string, string> = {}) {
  return coreRequest({
    headers: eventHeaders('connect', { 'ce-signature': undefined, authorization, ...extra }),
    body: JSON.stringify(connectBody()),
    ...(url === undefined ? {} : { url }),
  });
}

function problemOf(response: CoreResponse): Record<string, unknown> {
  return JSON.parse(bodyText(response)) as Record<string, unknown>;
}

describe('managed identity on the event handler (bearer JWT via JWKS)', () => {
  // One webhook, as in production: its key set is fetched once and then cached.
  let webhook: ReturnType<typeof managedIdentityWebhook>['webhook'];
  let connect: ReturnType<typeof managedIdentityWebhook>['connect'];

  beforeAll(() => {
    ({ webhook, connect } = managedIdentityWebhook());
  });

  beforeEach(() => connect.mockClear());

  it.each([
    ['a v2.0 issuer', ISSUER_V2],
    ['a v1.0 issuer', ISSUER_V1],
  ])('accepts a valid token from %s and calls the hook', async (_name, issuer) => {
    const request = connectRequest(`Bearer ${await token({ issuer })}`);
    const response = await webhook(request, captureLog());
    expect(response.status).toBe(204);
    expect(connect).toHaveBeenCalledTimes(1);
    expect(request.bodyRead).toBe(true);
  });

  it.each([
    ['no Authorization header', undefined],
    ['a Basic credential', `Basic ${Buffer.from('user:pass').toString('base64')}`],
    ['"Bearer" with no token', 'Bearer'],
    ['a bare token without scheme', 'eyJhbGciOiJSUzI1NiJ9.e30.sig'],
  ])('401 missing-token for %s', async (_name, authorization) => {
    const request = connectRequest(authorization);
    const response = await webhook(request, captureLog());
    expect(response.status).toBe(401);
    expect(header(response, 'content-type')).toBe('application/problem+json');
    expect(problemOf(response)).toMatchObject({ type: `${TYPE_PREFIX}missing-token`, status: 401 });
    expect(connect).not.toHaveBeenCalled();
    expect(request.bodyRead).toBe(false);
  });

  // Each with the jose error code the detail names, so each row fails for its own reason.
  const invalid: [string, () => Promise<string>, string][] = [
    [
      'a wrong issuer',
      () => token({ issuer: 'https://login.microsoftonline.com/attacker-tenant/v2.0' }),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    ],
    [
      'a wrong audience',
      () => token({ audience: 'api://some-other-app' }),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    ],
    ['an expired token', () => token({ expiresAt: now() - 3600 }), 'ERR_JWT_EXPIRED'],
    [
      'a token not yet valid (nbf in the future)',
      () => token({ notBefore: now() + 3600 }),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    ],
    ['a token without exp', () => token({ expiresAt: null }), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    [
      'a bad signature (another key, same kid)',
      () => token({ key: impostor.privateKey }),
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    ],
    [
      'an unknown kid',
      () => token({ key: impostor.privateKey, kid: 'not-in-the-jwks' }),
      'ERR_JWKS_NO_MATCHING_KEY',
    ],
    ['alg none (unsigned)', () => Promise.resolve(unsignedToken()), 'ERR_JOSE_ALG_NOT_ALLOWED'],
    [
      'HS256 keyed with the RSA public key PEM (algorithm confusion)',
      () => token({ alg: 'HS256', key: new TextEncoder().encode(publicPem) }),
      'ERR_JOSE_ALG_NOT_ALLOWED',
    ],
    ['a token that is not a JWT', () => Promise.resolve('not.a.jwt'), 'ERR_JWS_INVALID'],
  ];

  it.each(invalid)('401 invalid-token for %s', async (_name, make, reason) => {
    const request = connectRequest(`Bearer ${await make()}`);
    const response = await webhook(request, captureLog());
    expect(response.status).toBe(401);
    const problem = problemOf(response);
    expect(problem).toMatchObject({ type: `${TYPE_PREFIX}invalid-token`, status: 401 });
    expect(problem.detail).toContain(reason);
    expect(connect).not.toHaveBeenCalled();
    expect(request.bodyRead).toBe(false);
  });

  it('a rejection never echoes the token', async () => {
    const jwt = await token({ audience: 'api://some-other-app' });
    const log = captureLog();
    const response = await webhook(connectRequest(`Bearer ${jwt}`), log);
    expect(response.status).toBe(401);
    expect(bodyText(response)).not.toContain(jwt.split('.')[2]!);
    expect(JSON.stringify(log.lines)).not.toContain(jwt.split('.')[2]!);
  });

  it('forged kids do not make it refetch the key set (cooldown)', async () => {
    const good = await webhook(connectRequest(`Bearer ${await token()}`), captureLog());
    expect(good.status).toBe(204);
    const fetched = jwks.requests;
    for (const kid of ['forged-1', 'forged-2', 'forged-3']) {
      const response = await webhook(
        connectRequest(`Bearer ${await token({ key: impostor.privateKey, kid })}`),
        captureLog(),
      );
      expect(response.status).toBe(401);
    }
    expect(jwks.requests).toBe(fetched);
  });
});

describe('the identity provider is unavailable: 503, retry later', () => {
  async function expectUnavailable(jwksUri: URL): Promise<void> {
    const { webhook, connect } = managedIdentityWebhook(jwksUri);
    const request = connectRequest(`Bearer ${await token()}`);
    const response = await webhook(request, captureLog());
    expect(response.status).toBe(503);
    expect(header(response, 'retry-after')).toBe('5');
    expect(problemOf(response)).toMatchObject({
      type: `${TYPE_PREFIX}identity-provider-unavailable`,
      status: 503,
    });
    expect(connect).not.toHaveBeenCalled();
    expect(request.bodyRead).toBe(false);
  }

  it('when nothing listens on the JWKS port', async () => {
    const down = await startJwksServer({ keys: [] });
    const url = down.url;
    await down.close();
    await expectUnavailable(url);
  });

  it.each<[string, JwksMode]>([
    ['answers 500', 'status-500'],
    ['answers HTML', 'not-json'],
    ['answers JSON that is not a key set', 'not-a-jwks'],
    ['hangs up', 'hang-up'],
  ])('when the JWKS endpoint %s', async (_name, mode) => {
    const flaky = await startJwksServer({ keys: [] });
    flaky.mode = mode;
    try {
      await expectUnavailable(flaky.url);
      expect(flaky.requests).toBeGreaterThan(0);
    } finally {
      await flaky.close();
    }
  });

  it('recovers once the JWKS endpoint answers again (a failure is not cached)', async () => {
    const jwk = { ...(await exportJWK(signing.publicKey)), kid: KID };
    const flaky = await startJwksServer({ keys: [jwk] });
    try {
      const { webhook, connect } = managedIdentityWebhook(flaky.url);
      flaky.mode = 'status-500';
      expect((await webhook(connectRequest(`Bearer ${await token()}`), captureLog())).status).toBe(503);
      flaky.mode = 'ok';
      expect((await webhook(connectRequest(`Bearer ${await token()}`), captureLog())).status).toBe(204);
      expect(connect).toHaveBeenCalledTimes(1);
    } finally {
      await flaky.close();
    }
  });
});

describe('createJwtVerifier refuses shared-secret algorithms', () => {
  it.each([['HS256'], ['none']])('%s', (alg) => {
    expect(() =>
      createJwtVerifier({ issuers: [ISSUER_V2], audience: AUDIENCE, jwksUri: jwks.url, algorithms: [alg] }),
    ).toThrow(/asymmetric/);
  });
});

describe('keyless without managed identity: the function key must have been presented', () => {
  const { webhook, connect } = webhookWith(functionKeyAuthenticator());

  beforeEach(() => connect.mockClear());

  it('401 missing-function-key with neither ?code= nor x-functions-key', async () => {
    const request = connectRequest(undefined, 'https://app.example/api/webpubsub/events');
    const response = await webhook(request, captureLog());
    expect(response.status).toBe(401);
    expect(problemOf(response)).toMatchObject({ type: `${TYPE_PREFIX}missing-function-key`, status: 401 });
    expect(connect).not.toHaveBeenCalled();
    expect(request.bodyRead).toBe(false);
  });

  it('401 when the key is only in another query parameter', async () => {
    const request = connectRequest(undefined, 'https://app.example/api/webpubsub/events?key=abc&codes=1');
    const response = await webhook(request, captureLog());
    expect(response.status).toBe(401);
    expect(connect).not.toHaveBeenCalled();
  });

  it('401 when the key presented is empty (?code= or a blank x-functions-key)', async () => {
    for (const [url, headers] of [
      ['https://app.example/api/webpubsub/events?code=', {}],
      ['https://app.example/api/webpubsub/events', { 'x-functions-key': ' ' }],
    ] as const) {
      const response = await webhook(connectRequest(undefined, url, headers), captureLog());
      expect(response.status).toBe(401);
    }
    expect(connect).not.toHaveBeenCalled();
  });

  it('accepts ?code=', async () => {
    const request = connectRequest(undefined, 'https://app.example/api/webpubsub/events?code=function-key');
    expect((await webhook(request, captureLog())).status).toBe(204);
    expect(connect).toHaveBeenCalledTimes(1);
  });

  it('accepts x-functions-key', async () => {
    const request = connectRequest(undefined, 'https://app.example/api/webpubsub/events', {
      'x-functions-key': 'function-key',
    });
    expect((await webhook(request, captureLog())).status).toBe(204);
    expect(connect).toHaveBeenCalledTimes(1);
  });
});
