import { bearerIdentity } from '../../src/identity/bearer';
import { createJwtVerifier, type JwtVerifierOptions } from '../../src/identity/jwt';
import { discoverJwksUri } from '../../src/identity/oidc';
import { ProblemError } from '../../src/protocol/errors';
import {
  AUDIENCE,
  FORGED_TOKEN_NAMES,
  forgedTokens,
  nowSeconds,
  startTestIssuer,
  type TestIssuer,
} from '../support/oidc-issuer';

/**
 * Bearer identity: a JWT from any OpenID Connect issuer, checked against the issuer's JWKS (fetched from a
 * loopback issuer on port 0), with the user id, roles and groups taken from claims named by settings.
 */

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await startTestIssuer();
});

afterAll(async () => {
  await issuer.close();
});

const MAPPING = { userIdClaim: 'sub', roleClaim: 'roles', groupClaim: 'groups' };

function headers(values: Record<string, string>) {
  return new Headers(values);
}

function verifier(overrides: Partial<JwtVerifierOptions> = {}) {
  return createJwtVerifier({
    issuers: [issuer.issuer],
    audience: AUDIENCE,
    jwksUri: issuer.jwksUri,
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<ProblemError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProblemError);
  return error as ProblemError;
}

describe('bearerIdentity', () => {
  let identity: ReturnType<typeof bearerIdentity>;
  beforeAll(() => {
    identity = bearerIdentity(verifier(), MAPPING);
  });

  it('recognises a valid token: user id, roles and groups from the configured claims', async () => {
    const token = await issuer.token({
      subject: 'alice',
      claims: { roles: ['webpubsub.sendToGroup.room.1', 'admin'], groups: ['team-a', 'team-b'] },
    });
    await expect(identity.identify(headers({ authorization: `Bearer ${token}` }))).resolves.toEqual({
      userId: 'alice',
      roles: ['webpubsub.sendToGroup.room.1', 'admin'],
      groups: ['team-a', 'team-b'],
      via: 'bearer',
    });
  });

  it('accepts the scheme in any case and a single-string role claim', async () => {
    const token = await issuer.token({ claims: { roles: 'reader' } });
    const caller = await identity.identify(headers({ authorization: `bEaReR   ${token}  ` }));
    expect(caller).toMatchObject({ userId: 'alice', roles: ['reader'], groups: [] });
  });

  it('passes (undefined) when the request has no Authorization header or another scheme', async () => {
    await expect(identity.identify(headers({}))).resolves.toBeUndefined();
    await expect(
      identity.identify(headers({ authorization: 'Basic dXNlcjpwYXNz' })),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['"Bearer" without a token', 'Bearer'],
    ['"Bearer" and blanks', 'Bearer   '],
    ['two tokens', 'Bearer abc.def.ghi jkl.mno.pqr'],
  ])('401 invalid-token with a Bearer challenge for %s', async (_name, authorization) => {
    const error = await rejection(Promise.resolve(identity.identify(headers({ authorization }))));
    expect(error).toMatchObject({ status: 401, code: 'invalid-token' });
    expect(error.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });
});

describe('forged and unfit tokens (401, with the invalid_token challenge)', () => {
  let identity: ReturnType<typeof bearerIdentity>;
  beforeAll(() => {
    identity = bearerIdentity(verifier(), MAPPING);
  });
  // Built once the issuer has started: the list needs its keys.
  const cases = (): [string, () => Promise<string>][] => forgedTokens(issuer);

  it('covers every attack of the list', () => {
    expect(cases().length).toBeGreaterThanOrEqual(12);
  });

  it.each(FORGED_TOKEN_NAMES)('%s', async (name) => {
    const make = cases().find(([label]) => label === name)?.[1];
    expect(make).toBeDefined();
    const token = await make!();
    const error = await rejection(
      Promise.resolve(identity.identify(headers({ authorization: `Bearer ${token}` }))),
    );
    expect(error.status).toBe(401);
    expect(error.code).toBe('invalid-token');
    expect(error.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    const signature = token.split('.')[2];
    if (signature) expect(error.detail).not.toContain(signature);
  });

  it('the precise reason is named: alg none and HS256 are outside the allow-list', async () => {
    for (const name of [
      'alg none (unsigned)',
      'HS256 keyed with the issuer public key PEM (algorithm confusion)',
    ]) {
      const token = await cases().find(([label]) => label === name)![1]();
      const error = await rejection(
        Promise.resolve(identity.identify(headers({ authorization: `Bearer ${token}` }))),
      );
      expect(error.detail).toContain('ERR_JOSE_ALG_NOT_ALLOWED');
    }
  });
});

describe('claim mapping', () => {
  it('takes the user id from another claim (Entra oid) and refuses a token without it', async () => {
    const identity = bearerIdentity(verifier(), { ...MAPPING, userIdClaim: 'oid' });
    const withOid = await issuer.token({ claims: { oid: '0b6c-oid' } });
    await expect(identity.identify(headers({ authorization: `Bearer ${withOid}` }))).resolves.toMatchObject({
      userId: '0b6c-oid',
    });
    const without = await issuer.token();
    const error = await rejection(
      Promise.resolve(identity.identify(headers({ authorization: `Bearer ${without}` }))),
    );
    expect(error).toMatchObject({ status: 401, code: 'missing-user-id' });
    expect(error.detail).toContain('"oid"');
  });

  it.each([
    ['an empty string', ''],
    ['blanks', '   '],
    ['an object', { id: 1 }],
  ])('refuses a user id claim that is %s', async (_name, value) => {
    const identity = bearerIdentity(verifier(), { ...MAPPING, userIdClaim: 'uid' });
    const token = await issuer.token({ claims: { uid: value } });
    const error = await rejection(
      Promise.resolve(identity.identify(headers({ authorization: `Bearer ${token}` }))),
    );
    expect(error.code).toBe('missing-user-id');
  });

  it('reads nested claims by dotted path (Keycloak realm_access.roles), but a claim named with dots wins', async () => {
    const identity = bearerIdentity(verifier(), {
      ...MAPPING,
      roleClaim: 'realm_access.roles',
      groupClaim: 'wps.groups',
    });
    const token = await issuer.token({
      claims: {
        realm_access: { roles: ['webpubsub.joinLeaveGroups.room.*', 42] },
        'wps.groups': ['flat'],
        wps: { groups: ['nested'] },
      },
    });
    await expect(identity.identify(headers({ authorization: `Bearer ${token}` }))).resolves.toMatchObject({
      roles: ['webpubsub.joinLeaveGroups.room.*'],
      groups: ['flat'],
    });
  });
});

describe('createJwtVerifier', () => {
  it('tolerates 60 s of clock skew by default, and no more', async () => {
    const verify = verifier();
    await expect(verify(await issuer.token({ expiresAt: nowSeconds() - 30 }))).resolves.toMatchObject({
      subject: 'alice',
    });
    const error = await rejection(verify(await issuer.token({ expiresAt: nowSeconds() - 120 })));
    expect(error.detail).toContain('ERR_JWT_EXPIRED');
  });

  it('accepts one of several audiences', async () => {
    const verify = verifier({ audience: ['api://other', AUDIENCE] });
    await expect(verify(await issuer.token())).resolves.toMatchObject({ subject: 'alice' });
  });

  it('verifies against a fixed key set (no network)', async () => {
    const verify = createJwtVerifier({ issuers: [issuer.issuer], audience: AUDIENCE, jwks: issuer.jwks });
    const before = issuer.requests.get('/keys') ?? 0;
    await expect(verify(await issuer.token())).resolves.toMatchObject({ subject: 'alice' });
    expect(issuer.requests.get('/keys') ?? 0).toBe(before);
  });

  it('needs exactly one of jwksUri and jwks', () => {
    expect(() => createJwtVerifier({ issuers: [issuer.issuer], audience: AUDIENCE })).toThrow(
      /jwksUri or jwks/,
    );
    expect(() =>
      createJwtVerifier({
        issuers: [issuer.issuer],
        audience: AUDIENCE,
        jwks: issuer.jwks,
        jwksUri: issuer.jwksUri,
      }),
    ).toThrow(/jwksUri or jwks/);
  });

  it('fetches the key set once and caches it across tokens', async () => {
    const fresh = await startTestIssuer();
    try {
      const verify = createJwtVerifier({
        issuers: [fresh.issuer],
        audience: AUDIENCE,
        jwksUri: fresh.jwksUri,
      });
      for (let i = 0; i < 5; i++) await verify(await fresh.token({ subject: `user-${i}` }));
      expect(fresh.requests.get('/keys')).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  describe('remembering verified tokens', () => {
    it('still refuses a remembered token once it has expired', async () => {
      let now = Date.now();
      const verify = verifier({ cache: { maxEntries: 10 }, clockToleranceSeconds: 0, now: () => now });
      const token = await issuer.token({ expiresAt: Math.floor(now / 1000) + 30 });
      await expect(verify(token)).resolves.toMatchObject({ subject: 'alice' });
      await expect(verify(token)).resolves.toMatchObject({ subject: 'alice' });
      now += 31_000;
      const error = await rejection(verify(token));
      expect(error.detail).toContain('ERR_JWT_EXPIRED');
    });

    it('is keyed by the whole token: a genuine token remembered does not let a forged signature through', async () => {
      const verify = verifier({ cache: { maxEntries: 10 } });
      const genuine = await issuer.token();
      await verify(genuine);
      const [header, payload] = genuine.split('.');
      const forged = `${header}.${payload}.${'A'.repeat(342)}`;
      const error = await rejection(verify(forged));
      expect(error.status).toBe(401);
    });

    it('never remembers a failure', async () => {
      let now = Date.now();
      const verify = verifier({ cache: { maxEntries: 10 }, clockToleranceSeconds: 0, now: () => now });
      const early = await issuer.token({ notBefore: Math.floor(now / 1000) + 60 });
      await expect(rejection(verify(early))).resolves.toMatchObject({ status: 401 });
      now += 61_000;
      await expect(verify(early)).resolves.toMatchObject({ subject: 'alice' });
    });

    // A fresh verification of these tokens fails once the clock is set back before their nbf, while a
    // remembered one is answered from memory: that difference shows what the cache holds.
    async function tokensValidFrom(nbf: number, subjects: string[]): Promise<string[]> {
      return Promise.all(subjects.map((subject) => issuer.token({ subject, notBefore: nbf, issuedAt: nbf })));
    }

    it('answers a remembered token from memory', async () => {
      let now = Date.now();
      const verify = verifier({ cache: { maxEntries: 10 }, clockToleranceSeconds: 0, now: () => now });
      const [token] = await tokensValidFrom(Math.floor(now / 1000) - 10, ['alice']);
      await verify(token!);
      now -= 3_600_000;
      await expect(verify(token!)).resolves.toMatchObject({ subject: 'alice' });
      const uncached = verifier({ clockToleranceSeconds: 0, now: () => now });
      expect((await rejection(uncached(token!))).detail).toContain('ERR_JWT_CLAIM_VALIDATION_FAILED');
    });

    it('stays within maxEntries: the oldest entry goes first', async () => {
      let now = Date.now();
      const verify = verifier({ cache: { maxEntries: 2 }, clockToleranceSeconds: 0, now: () => now });
      const [first, second, third] = await tokensValidFrom(Math.floor(now / 1000) - 10, ['a', 'b', 'c']);
      for (const token of [first, second, third]) await verify(token!);
      now -= 3_600_000;
      expect((await rejection(verify(first!))).detail).toContain('ERR_JWT_CLAIM_VALIDATION_FAILED');
      await expect(verify(third!)).resolves.toMatchObject({ subject: 'c' });
    });
  });
});

describe('OpenID Connect discovery', () => {
  it('finds the JWKS from the issuer and verifies with it', async () => {
    const fresh = await startTestIssuer();
    try {
      const verify = createJwtVerifier({
        issuers: [fresh.issuer],
        audience: AUDIENCE,
        jwksUri: discoverJwksUri(fresh.issuer),
      });
      await expect(verify(await fresh.token())).resolves.toMatchObject({ subject: 'alice' });
      await verify(await fresh.token({ subject: 'bob' }));
      expect(fresh.requests.get('/.well-known/openid-configuration')).toBe(1);
      expect(fresh.requests.get('/keys')).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('503 when the configuration names another issuer, and keeps trying on later tokens', async () => {
    const fresh = await startTestIssuer();
    try {
      const verify = createJwtVerifier({
        issuers: [fresh.issuer],
        audience: AUDIENCE,
        jwksUri: discoverJwksUri(fresh.issuer),
      });
      fresh.mode = 'wrong-issuer';
      const error = await rejection(verify(await fresh.token()));
      expect(error).toMatchObject({ status: 503, code: 'identity-provider-unavailable' });
      expect(error.headers['retry-after']).toBe('5');
      fresh.mode = 'status-500';
      expect((await rejection(verify(await fresh.token()))).status).toBe(503);
      fresh.mode = 'ok';
      await expect(verify(await fresh.token())).resolves.toMatchObject({ subject: 'alice' });
      expect(fresh.requests.get('/.well-known/openid-configuration')).toBe(3);
    } finally {
      await fresh.close();
    }
  });

  it('503 when nothing answers at the issuer', async () => {
    const gone = await startTestIssuer();
    const url = gone.issuer;
    await gone.close();
    const error = await rejection(discoverJwksUri(url)());
    expect(error.status).toBe(503);
  });
});
