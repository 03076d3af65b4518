import { anonymousIdentity } from '../../src/identity/anonymous';
import { appServiceIdentity } from '../../src/identity/app-service';
import { createIdentityChain, type IdentityProvider } from '../../src/identity/caller';
import { ProblemError } from '../../src/protocol/errors';

/**
 * App Service Authentication (Easy Auth) and anonymous callers. The principal below has the shape the App
 * Service documentation gives for X-MS-CLIENT-PRINCIPAL ("Decode the client principal header"): base64 JSON
 * `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`, with repeated claims for multi-valued ones.
 */
const ROLE_TYP = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
const PRINCIPAL = {
  auth_typ: 'aad',
  name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  role_typ: ROLE_TYP,
  claims: [
    {
      typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
      val: '5b5450db-eb26-4c1a-981c-ba1d25f0483d',
    },
    { typ: 'preferred_username', val: 'alice@contoso.com' },
    { typ: ROLE_TYP, val: 'webpubsub.sendToGroups.room.*' },
    { typ: ROLE_TYP, val: 'Reader' },
    { typ: 'groups', val: 'f08bbbea-b793-4a36-a5fc-136c18d8aa8f' },
    { typ: 'groups', val: '14a87ffa-0801-49bf-a515-3d259a2a9f8f' },
  ],
};

function principalHeaders(principal: unknown = PRINCIPAL, extra: Record<string, string> = {}): Headers {
  return new Headers({
    'x-ms-client-principal': Buffer.from(JSON.stringify(principal)).toString('base64'),
    'x-ms-client-principal-id': '5b5450db-eb26-4c1a-981c-ba1d25f0483d',
    'x-ms-client-principal-name': 'alice@contoso.com',
    'x-ms-client-principal-idp': 'aad',
    ...extra,
  });
}

const enabled = appServiceIdentity({ platformAuthEnabled: true, roleClaim: 'roles', groupClaim: 'groups' });
const disabled = appServiceIdentity({ platformAuthEnabled: false, roleClaim: 'roles', groupClaim: 'groups' });

/** identify() may answer synchronously; tests read it as a promise either way. */
function run(provider: IdentityProvider, headers: Headers) {
  return Promise.resolve(provider.identify(headers));
}

async function problem(provider: IdentityProvider, headers: Headers): Promise<ProblemError> {
  let caught: unknown;
  try {
    await provider.identify(headers);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProblemError);
  return caught as ProblemError;
}

describe('App Service Authentication with the platform in front (WEBSITE_AUTH_ENABLED=True)', () => {
  it('takes the user id from X-MS-CLIENT-PRINCIPAL-ID, roles from role_typ, groups from the group claim', async () => {
    await expect(run(enabled, principalHeaders())).resolves.toEqual({
      userId: '5b5450db-eb26-4c1a-981c-ba1d25f0483d',
      roles: ['webpubsub.sendToGroups.room.*', 'Reader'],
      groups: ['f08bbbea-b793-4a36-a5fc-136c18d8aa8f', '14a87ffa-0801-49bf-a515-3d259a2a9f8f'],
      via: 'appservice',
    });
  });

  it('also reads the configured role claim type (e.g. "roles" from a v2 token)', async () => {
    const principal = {
      ...PRINCIPAL,
      role_typ: undefined,
      claims: [{ typ: 'roles', val: 'webpubsub.joinLeaveGroup.lobby' }],
    };
    await expect(run(enabled, principalHeaders(principal))).resolves.toMatchObject({
      roles: ['webpubsub.joinLeaveGroup.lobby'],
      groups: [],
    });
  });

  it('passes (undefined) when the request carries no principal headers (not signed in)', async () => {
    await expect(run(enabled, new Headers())).resolves.toBeUndefined();
  });

  it('decodes a UTF-8 principal id that arrived as latin1 header bytes', async () => {
    const latin1 = Buffer.from('zoë', 'utf8').toString('latin1');
    const caller = await run(enabled, principalHeaders(PRINCIPAL, { 'x-ms-client-principal-id': latin1 }));
    expect(caller?.userId).toBe('zoë');
  });

  it.each<[string, Record<string, string>]>([
    ['the id header is missing', { 'x-ms-client-principal-id': '' }],
    ['the principal header is missing', { 'x-ms-client-principal': '' }],
    ['the principal is not base64', { 'x-ms-client-principal': '{"claims":[]}' }],
    ['the principal is not JSON', { 'x-ms-client-principal': Buffer.from('not json').toString('base64') }],
    ['the principal is a JSON array', { 'x-ms-client-principal': Buffer.from('[]').toString('base64') }],
    [
      'its claims are not a list',
      { 'x-ms-client-principal': Buffer.from('{"claims":{"typ":"a"}}').toString('base64') },
    ],
    [
      'a claim value is not a string',
      { 'x-ms-client-principal': Buffer.from('{"claims":[{"typ":"a","val":1}]}').toString('base64') },
    ],
  ])('401 invalid-principal when %s', async (_name, override) => {
    const headers = principalHeaders();
    for (const [name, value] of Object.entries(override)) {
      if (value === '') headers.delete(name);
      else headers.set(name, value);
    }
    expect(await problem(enabled, headers)).toMatchObject({ status: 401, code: 'invalid-principal' });
  });
});

describe('App Service principal headers on an app WITHOUT platform authentication (forged)', () => {
  it.each<[string, Record<string, string>]>([
    ['the full header set', Object.fromEntries(principalHeaders())],
    ['X-MS-CLIENT-PRINCIPAL-ID alone', { 'x-ms-client-principal-id': 'admin' }],
    ['X-MS-CLIENT-PRINCIPAL-NAME alone', { 'X-MS-CLIENT-PRINCIPAL-NAME': 'admin@contoso.com' }],
    [
      'X-MS-CLIENT-PRINCIPAL alone',
      { 'x-ms-client-principal': Buffer.from('{"claims":[]}').toString('base64') },
    ],
  ])('401 untrusted-principal for %s', async (_name, headers) => {
    const error = await problem(disabled, new Headers(headers));
    expect(error).toMatchObject({ status: 401, code: 'untrusted-principal' });
    expect(error.detail).toContain('WEBSITE_AUTH_ENABLED');
  });

  it('a forged principal never falls through to anonymous', async () => {
    const identify = createIdentityChain([disabled, anonymousIdentity()]);
    let caught: unknown;
    try {
      await identify(principalHeaders());
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ status: 401, code: 'untrusted-principal' });
  });
});

describe('anonymous identity', () => {
  it('makes a fresh server-side user id for every request', async () => {
    const anonymous = anonymousIdentity();
    const first = await run(anonymous, new Headers());
    const second = await run(anonymous, new Headers({ 'x-user-id': 'alice' }));
    expect(first?.userId).toMatch(/^anonymous-[0-9a-f-]{36}$/);
    expect(second?.userId).toMatch(/^anonymous-[0-9a-f-]{36}$/);
    expect(first?.userId).not.toBe(second?.userId);
    expect(first).toMatchObject({ roles: [], groups: [], via: 'anonymous' });
  });
});

describe('the identity chain', () => {
  const recognises = (name: 'bearer' | 'appservice', userId: string | undefined): IdentityProvider => ({
    name,
    identify: () => (userId === undefined ? undefined : { userId, roles: [], groups: [], via: name }),
  });

  it('returns the first mode that recognises the caller, in the configured order', async () => {
    const identify = createIdentityChain([
      recognises('appservice', undefined),
      recognises('bearer', 'bob'),
      anonymousIdentity(),
    ]);
    await expect(identify(new Headers())).resolves.toMatchObject({ userId: 'bob', via: 'bearer' });
  });

  it('falls back to anonymous only when no credential at all was presented', async () => {
    const identify = createIdentityChain([recognises('bearer', undefined), anonymousIdentity()]);
    await expect(identify(new Headers())).resolves.toMatchObject({ via: 'anonymous' });
  });

  it('401 missing-credentials naming what would do, with a Bearer challenge when bearer is a mode', async () => {
    const identify = createIdentityChain([recognises('bearer', undefined), enabled]);
    let caught: unknown;
    try {
      await identify(new Headers());
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ProblemError);
    const error = caught as ProblemError;
    expect(error).toMatchObject({ status: 401, code: 'missing-credentials' });
    expect(error.detail).toContain('a bearer token');
    expect(error.detail).toContain('App Service Authentication');
    expect(error.headers['www-authenticate']).toBe('Bearer');
  });

  it('no Bearer challenge when only App Service Authentication is configured', async () => {
    const identify = createIdentityChain([enabled]);
    await expect(identify(new Headers())).rejects.toMatchObject({ status: 401, headers: {} });
  });
});
