import { AzureKeyCredential, WebPubSubServiceClient } from '@azure/web-pubsub';
import { jwtVerify } from 'jose';
import { ConfigError, loadConfig, type Environment } from '../../src/config';
import type { CoreResponse } from '../../src/http/types';
import { buildNegotiateHandler } from '../../src/negotiate/from-config';
import {
  createNegotiateHandler,
  negotiateResultJson,
  type NegotiateHandler,
} from '../../src/negotiate/handler';
import { createKeyTokenIssuer } from '../../src/negotiate/key-token';
import { createNegotiatePolicy } from '../../src/negotiate/policy';
import { bodyText, captureLog, coreRequest, header } from '../support/cloud-events';
import {
  AUDIENCE,
  decodeHeader,
  decodePayload,
  FORGED_TOKEN_NAMES,
  forgedTokens,
  startTestIssuer,
  type TestIssuer,
} from '../support/oidc-issuer';

/**
 * The negotiate handler as configuration builds it, in key mode, with callers identified by a loopback
 * OpenID Connect issuer (discovery and JWKS over HTTP on port 0). Tokens handed out are checked against the
 * official SDK's and verified with jose under the access key.
 */
const ACCESS_KEY = 'NegotiateTestAccessKey0123456789abcdefghijklmn';
const ENDPOINT = 'https://contoso.webpubsub.azure.com';
const TYPE = 'urn:webpubsub-functions:problem:';
const APP_ORIGIN = 'https://chat.contoso.com';

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await startTestIssuer();
});

afterAll(async () => {
  await issuer.close();
});

function env(extra: Environment = {}): Environment {
  return {
    WebPubSubConnectionString: `Endpoint=${ENDPOINT};AccessKey=${ACCESS_KEY};Version=1.0;`,
    WebPubSubHub: 'chat',
    WebPubSubHubs: 'Ops_Hub',
    NegotiateIdentity: 'bearer',
    NegotiateIssuer: issuer.issuer,
    NegotiateAudience: AUDIENCE,
    NegotiateAllowedGroups: 'lobby,room.*,user.{userId}',
    NegotiateRoles: 'webpubsub.joinLeaveGroups.room.*',
    NegotiateRoleClaim: 'roles',
    NegotiateGroupClaim: 'groups',
    CorsAllowedOrigins: APP_ORIGIN,
    ...extra,
  };
}

interface Call {
  method?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string;
}

function call(handler: NegotiateHandler, request: Call = {}) {
  const core = coreRequest({
    method: request.method ?? 'GET',
    url: `https://app.example/api/negotiate${request.query ?? ''}`,
    headers: request.headers ?? {},
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  const log = captureLog();
  return { core, log, response: handler(core, log) };
}

async function asCaller(
  handler: NegotiateHandler,
  query = '',
  claims: Record<string, unknown> = {},
  subject = 'alice',
) {
  const token = await issuer.token({ subject, claims });
  return call(handler, { query, headers: { authorization: `Bearer ${token}`, origin: APP_ORIGIN } }).response;
}

function json(response: CoreResponse): Record<string, unknown> {
  return JSON.parse(bodyText(response)) as Record<string, unknown>;
}

function expectProblem(response: CoreResponse, status: number, code: string): Record<string, unknown> {
  expect(response.status).toBe(status);
  expect(header(response, 'content-type')).toBe('application/problem+json');
  expect(header(response, 'cache-control')).toBe('no-store');
  const problem = json(response);
  expect(problem).toMatchObject({ type: `${TYPE}${code}`, status });
  return problem;
}

describe('negotiate in key mode with a bearer caller', () => {
  let handler: NegotiateHandler;
  beforeAll(() => {
    handler = buildNegotiateHandler(loadConfig(env()));
  });

  it('answers 200 JSON, never cached, with url, baseUrl, token, expiresOn, userId, hub, groups, roles', async () => {
    const before = Date.now();
    const response = await asCaller(handler, '?groups=room.1,user.alice&userId=mallory', {
      roles: ['webpubsub.sendToGroups.news.*', 'admin', 'webpubsub.sendToGroup'],
    });
    expect(response.status).toBe(200);
    expect(header(response, 'content-type')).toBe('application/json; charset=utf-8');
    expect(header(response, 'cache-control')).toBe('no-store');
    const body = json(response);
    expect(Object.keys(body).sort()).toEqual(
      ['baseUrl', 'expiresOn', 'groups', 'hub', 'roles', 'token', 'url', 'userId'].sort(),
    );
    expect(body).toMatchObject({
      userId: 'alice',
      hub: 'chat',
      groups: ['room.1', 'user.alice'],
      roles: [
        'webpubsub.joinLeaveGroups.room.*',
        'webpubsub.sendToGroups.news.*',
        'webpubsub.joinLeaveGroup.room.1',
        'webpubsub.sendToGroup.room.1',
        'webpubsub.joinLeaveGroup.user.alice',
        'webpubsub.sendToGroup.user.alice',
      ],
      baseUrl: 'wss://contoso.webpubsub.azure.com/client/hubs/chat',
    });
    expect(body.url).toBe(`${body.baseUrl as string}?access_token=${body.token as string}`);
    const expiresOn = Date.parse(body.expiresOn as string);
    expect(expiresOn).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3_600_000);
    expect(expiresOn).toBeLessThanOrEqual(Date.now() + 3_600_000);
  });

  it('the token in the URL carries exactly the granted roles and groups, as the SDK would have made it', async () => {
    const response = await asCaller(handler, '?groups=lobby,room.7', {
      roles: ['webpubsub.sendToGroups.news.*'],
    });
    const body = json(response);
    const token = new URL(body.url as string).searchParams.get('access_token') as string;
    const claims = decodePayload(token);
    expect(claims.role).toEqual(body.roles);
    expect(claims['webpubsub.group']).toEqual(['lobby', 'room.7']);
    expect(claims.sub).toBe('alice');

    // The official SDK, given what the response says was granted, produces the same claims and header.
    const sdk = new WebPubSubServiceClient(ENDPOINT, new AzureKeyCredential(ACCESS_KEY), 'chat');
    const reference = await sdk.getClientAccessToken({
      userId: body.userId as string,
      roles: body.roles as string[],
      groups: body.groups as string[],
    });
    const { iat: _i1, exp: _e1, ...theirs } = decodePayload(reference.token);
    const { iat: _i2, exp: _e2, ...ours } = claims;
    expect(ours).toEqual(theirs);
    expect(decodeHeader(token)).toEqual(decodeHeader(reference.token));
    expect(body.baseUrl).toBe(reference.baseUrl);

    // And it is signed with the access key for this hub's client endpoint.
    await expect(
      jwtVerify(token, new TextEncoder().encode(ACCESS_KEY), {
        algorithms: ['HS256'],
        audience: `${ENDPOINT}/client/hubs/chat`,
      }),
    ).resolves.toBeDefined();
  });

  it('takes ?hub= within the served hubs and ?protocol=', async () => {
    const body = json(await asCaller(handler, '?hub=ops_hub&protocol=mqtt'));
    expect(body).toMatchObject({
      hub: 'Ops_Hub',
      baseUrl: 'wss://contoso.webpubsub.azure.com/clients/mqtt/hubs/Ops_Hub',
    });
    expect(decodePayload(body.token as string).aud).toBe(`${ENDPOINT}/clients/mqtt/hubs/Ops_Hub`);
  });

  it('grants a group named in the caller group claim', async () => {
    const body = json(await asCaller(handler, '?groups=engineering', { groups: ['engineering'] }));
    expect(body.groups).toEqual(['engineering']);
  });

  it('403 group-not-allowed for a group outside policy (and no token in the answer)', async () => {
    const response = await asCaller(handler, '?groups=room.1,admins');
    const problem = expectProblem(response, 403, 'group-not-allowed');
    expect(problem.detail).toContain('"admins"');
    expect(bodyText(response)).not.toContain('access_token');
  });

  it("403 for another user's personal group", async () => {
    expectProblem(await asCaller(handler, '?groups=user.bob'), 403, 'group-not-allowed');
  });

  it('403 hub-not-allowed for a hub outside policy', async () => {
    expectProblem(await asCaller(handler, '?hub=admin'), 403, 'hub-not-allowed');
  });

  it('400 for a protocol it does not know', async () => {
    expectProblem(await asCaller(handler, '?protocol=signalr'), 400, 'invalid-protocol');
  });

  it('POST works as GET and its body is never read', async () => {
    const token = await issuer.token();
    const { core, response } = call(handler, {
      method: 'POST',
      query: '?groups=lobby',
      headers: { authorization: `Bearer ${token}` },
      body: '{"userId":"mallory"}',
    });
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(json(answer)).toMatchObject({ userId: 'alice', groups: ['lobby'] });
    expect(core.bodyRead).toBe(false);
  });

  it('405 for other methods, with Allow', async () => {
    const response = await call(handler, { method: 'PUT' }).response;
    expectProblem(response, 405, 'method-not-allowed');
    expect(header(response, 'allow')).toBe('GET, POST, OPTIONS');
  });

  it('401 missing-credentials with a Bearer challenge and no token', async () => {
    const { response, log } = call(handler, {
      query: '?userId=alice&hub=admin',
      headers: { origin: APP_ORIGIN },
    });
    const answer = await response;
    expectProblem(answer, 401, 'missing-credentials');
    expect(header(answer, 'www-authenticate')).toBe('Bearer');
    // The caller is identified first: an anonymous prober learns nothing about hubs.
    expect(json(answer).detail).not.toContain('admin');
    expect(log.lines).toEqual([
      { level: 'warn', message: 'negotiate refused', fields: { status: 401, code: 'missing-credentials' } },
    ]);
  });

  describe('forged and unfit caller tokens: every one is 401, and nothing is issued', () => {
    it.each(FORGED_TOKEN_NAMES)('%s', async (name) => {
      const make = forgedTokens(issuer).find(([label]) => label === name)?.[1];
      const token = await make!();
      const { response, log } = call(handler, {
        query: '?groups=lobby',
        headers: { authorization: `Bearer ${token}` },
      });
      const answer = await response;
      expectProblem(answer, 401, 'invalid-token');
      expect(header(answer, 'www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(bodyText(answer)).not.toContain('access_token');
      const signature = token.split('.')[2];
      if (signature) expect(JSON.stringify(log.lines)).not.toContain(signature);
    });

    it('covers every token of the attack list', () => {
      expect(
        forgedTokens(issuer)
          .map(([label]) => label)
          .sort(),
      ).toEqual([...FORGED_TOKEN_NAMES].sort());
    });
  });
});

describe('identity modes through the handler', () => {
  function principal(id: string) {
    return {
      'x-ms-client-principal': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: [] })).toString(
        'base64',
      ),
      'x-ms-client-principal-id': id,
      'x-ms-client-principal-name': `${id}@contoso.com`,
    };
  }

  it('forged App Service headers on an app without platform authentication: 401 untrusted-principal', async () => {
    const handler = buildNegotiateHandler(loadConfig(env({ NegotiateIdentity: 'appservice' })));
    const response = await call(handler, { headers: principal('admin') }).response;
    expectProblem(response, 401, 'untrusted-principal');
  });

  it('App Service headers with WEBSITE_AUTH_ENABLED=True: the principal id is the user', async () => {
    const handler = buildNegotiateHandler(
      loadConfig(env({ NegotiateIdentity: 'appservice', WEBSITE_AUTH_ENABLED: 'True' })),
    );
    const response = await call(handler, { query: '?userId=mallory', headers: principal('carol') }).response;
    expect(response.status).toBe(200);
    expect(json(response).userId).toBe('carol');
    expect(decodePayload(json(response).token as string).sub).toBe('carol');
  });

  it('anonymous: a server-made user id, whatever the query claims', async () => {
    const handler = buildNegotiateHandler(loadConfig(env({ NegotiateIdentity: 'anonymous' })));
    const first = json(await call(handler, { query: '?userId=alice' }).response);
    const second = json(await call(handler, { query: '?userId=alice' }).response);
    expect(first.userId).toMatch(/^anonymous-/);
    expect(second.userId).toMatch(/^anonymous-/);
    expect(first.userId).not.toBe(second.userId);
    expect(decodePayload(first.token as string).sub).toBe(first.userId);
  });

  it('bearer then anonymous: a bad token is 401, never a downgrade to anonymous', async () => {
    const handler = buildNegotiateHandler(loadConfig(env({ NegotiateIdentity: 'bearer,anonymous' })));
    const forged = await issuer.token({ key: issuer.impostorKey });
    expectProblem(
      await call(handler, { headers: { authorization: `Bearer ${forged}` } }).response,
      401,
      'invalid-token',
    );
    expect(json(await call(handler).response).userId).toMatch(/^anonymous-/);
    expect(json(await asCaller(handler, '', {}, 'dave')).userId).toBe('dave');
  });

  it('the user id claim is a setting (Entra oid)', async () => {
    const handler = buildNegotiateHandler(loadConfig(env({ NegotiateUserIdClaim: 'oid' })));
    expect(json(await asCaller(handler, '', { oid: 'object-id-1' })).userId).toBe('object-id-1');
    expectProblem(await asCaller(handler), 401, 'missing-user-id');
  });
});

describe('CORS', () => {
  let handler: NegotiateHandler;
  beforeAll(() => {
    handler = buildNegotiateHandler(loadConfig(env()));
  });

  function preflight(origin: string, method = 'GET', target: NegotiateHandler = handler) {
    return call(target, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization',
      },
    }).response;
  }

  it('answers the preflight of an allowed origin: methods, headers, credentials, max-age', async () => {
    const response = await preflight(APP_ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers).toEqual({
      'access-control-allow-origin': APP_ORIGIN,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  it('refuses the preflight of another origin (403, no allow-origin)', async () => {
    const response = await preflight('https://evil.example');
    expectProblem(response, 403, 'origin-not-allowed');
    expect(header(response, 'access-control-allow-origin')).toBeUndefined();
  });

  it('refuses a preflight for a method other than GET or POST', async () => {
    expectProblem(await preflight(APP_ORIGIN, 'DELETE'), 403, 'method-not-allowed');
  });

  it('a plain OPTIONS (no CORS headers) is 204 with Allow', async () => {
    const response = await call(handler, { method: 'OPTIONS' }).response;
    expect(response.status).toBe(204);
    expect(header(response, 'allow')).toBe('GET, POST, OPTIONS');
  });

  it('actual responses of an allowed origin carry CORS headers, errors included', async () => {
    const ok = await asCaller(handler);
    expect(header(ok, 'access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(header(ok, 'access-control-allow-credentials')).toBe('true');
    expect(header(ok, 'vary')).toBe('Origin');
    const refused = await call(handler, { headers: { origin: APP_ORIGIN } }).response;
    expect(refused.status).toBe(401);
    expect(header(refused, 'access-control-allow-origin')).toBe(APP_ORIGIN);
  });

  it('another origin gets no CORS headers (its page cannot read the answer)', async () => {
    const token = await issuer.token();
    const response = await call(handler, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${token}` },
    }).response;
    expect(header(response, 'access-control-allow-origin')).toBeUndefined();
    expect(header(response, 'vary')).toBe('Origin');
  });

  it('`*` allows any origin, never with credentials', async () => {
    const open = buildNegotiateHandler(loadConfig(env({ CorsAllowedOrigins: '*' })));
    const response = await preflight('https://anyone.example', 'POST', open);
    expect(response.status).toBe(204);
    expect(header(response, 'access-control-allow-origin')).toBe('*');
    expect(header(response, 'access-control-allow-credentials')).toBeUndefined();
  });

  it('no allow-list: every cross-origin preflight is refused', async () => {
    const closed = buildNegotiateHandler(loadConfig(env({ CorsAllowedOrigins: '' })));
    expect((await preflight(APP_ORIGIN, 'GET', closed)).status).toBe(403);
  });
});

describe('what configuration cannot build', () => {
  function configError(extra: Environment): ConfigError {
    let caught: unknown;
    try {
      buildNegotiateHandler(loadConfig(env(extra)));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    return caught as ConfigError;
  }

  it('NegotiateIdentity unset: refuses, naming the setting', () => {
    expect(configError({ NegotiateIdentity: undefined }).setting).toBe('NegotiateIdentity');
  });

  it('bearer without an issuer or an audience', () => {
    expect(configError({ NegotiateIssuer: undefined }).setting).toBe('NegotiateIssuer');
    expect(configError({ NegotiateAudience: undefined }).setting).toBe('NegotiateAudience');
  });

  it('key mode with an http endpoint beyond loopback (tokens would travel in clear)', () => {
    const error = configError({
      WebPubSubConnectionString: `Endpoint=http://contoso.example;AccessKey=${ACCESS_KEY};Version=1.0;`,
    });
    expect(error.setting).toBe('WebPubSubConnectionString');
  });

  it('an http endpoint on loopback (the local emulator) is fine, and gives ws:// URLs', async () => {
    const handler = buildNegotiateHandler(
      loadConfig(
        env({
          WebPubSubConnectionString: `Endpoint=http://localhost:8080;AccessKey=${ACCESS_KEY};Version=1.0;`,
        }),
      ),
    );
    expect(json(await asCaller(handler)).baseUrl).toBe('ws://localhost:8080/client/hubs/chat');
  });
});

describe('the answer body is exactly what JSON.stringify writes', () => {
  const TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLV8';
  const base = {
    url: `wss://contoso.webpubsub.azure.com/client/hubs/chat?access_token=${TOKEN}`,
    baseUrl: 'wss://contoso.webpubsub.azure.com/client/hubs/chat',
    token: TOKEN,
    expiresOn: '2026-11-22T12:00:00.000Z',
    userId: 'user-1',
    hub: 'chat',
    groups: ['room.1'],
    roles: ['webpubsub.joinLeaveGroup.room.1', 'webpubsub.sendToGroup.room.1'],
  };
  // Every character JSON.stringify escapes or treats apart, and some it leaves alone.
  const controls = Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code));
  const strings = [
    '',
    'plain',
    'quote " inside',
    'back\\slash',
    ...controls.map((c) => `a${c}b`),
    '\u007f delete',
    'line\u2028and paragraph\u2029separators',
    'é, ü, 中文, Ω',
    'emoji 😀 as a surrogate pair',
    'lone high \ud83d here',
    'lone low \ude00 here',
    'low then high \ude00\ud83d',
    '</script><!--',
  ];

  it.each(strings.map((value) => [JSON.stringify(value), value]))(
    'a user id of %s, in every string field and in the lists',
    (_label, value) => {
      const result = {
        ...base,
        url: `${base.url}${value}`,
        baseUrl: value,
        token: value,
        expiresOn: value,
        userId: value,
        hub: value,
        groups: [value, 'room.1', value],
        roles: [value],
      };
      expect(negotiateResultJson(result)).toBe(JSON.stringify(result));
    },
  );

  it('empty and single lists', () => {
    for (const lists of [
      { groups: [], roles: [] },
      { groups: ['a'], roles: [] },
      { groups: [], roles: ['webpubsub.joinLeaveGroup'] },
    ]) {
      const result = { ...base, ...lists };
      expect(negotiateResultJson(result)).toBe(JSON.stringify(result));
    }
  });
});

describe('expiresOn', () => {
  it("is each answer's own token expiry, as the clock moves on and back", async () => {
    let clock = Date.parse('2026-11-22T12:00:00.250Z');
    const negotiate = createNegotiateHandler({
      identify: () => Promise.resolve({ userId: 'user-1', roles: [], groups: [], via: 'anonymous' }),
      policy: createNegotiatePolicy({
        hubs: ['chat'],
        defaultHub: 'chat',
        allowedGroups: [],
        roles: [],
        groupPermissions: [],
        allowHubWideRoles: false,
        tokenLifetimeMinutes: 60,
      }),
      issuer: createKeyTokenIssuer(new URL(ENDPOINT), ACCESS_KEY, () => clock),
      cors: { headersFor: () => ({}), preflight: () => ({ status: 204 }) },
    });
    const request = coreRequest({ method: 'GET', url: 'https://app.example/api/negotiate', headers: {} });
    const expiries: unknown[] = [];
    for (const at of ['12:00:00.250', '12:00:00.900', '12:00:01.100', '11:59:30.000', '12:00:01.500']) {
      clock = Date.parse(`2026-11-22T${at}Z`);
      const body = JSON.parse(bodyText(await negotiate(request, captureLog()))) as {
        token: string;
        expiresOn: string;
      };
      const { exp } = decodePayload(body.token) as { exp: number };
      expect(body.expiresOn).toBe(new Date(exp * 1000).toISOString());
      expiries.push(body.expiresOn);
    }
    expect(expiries).toEqual([
      '2026-11-22T13:00:00.000Z',
      '2026-11-22T13:00:00.000Z',
      '2026-11-22T13:00:01.000Z',
      '2026-11-22T12:59:30.000Z',
      '2026-11-22T13:00:01.000Z',
    ]);
  });
});
