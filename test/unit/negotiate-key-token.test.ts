import { AzureKeyCredential, WebPubSubServiceClient } from '@azure/web-pubsub';
import { jwtVerify } from 'jose';
import { silentLogger } from '../../src/http/types';
import { createKeyTokenIssuer } from '../../src/negotiate/key-token';
import type { ClientProtocol, Grant, IssuedToken } from '../../src/negotiate/types';
import { decodeHeader, decodePayload } from '../support/oidc-issuer';

/**
 * Key mode signs client access tokens locally. The reference is the official SDK: for the same inputs,
 * @azure/web-pubsub's getClientAccessToken must produce the same claims (and, with the clock held still,
 * the very same token and URL), and the token must verify as HS256 under the access key's UTF-8 bytes.
 */
const ACCESS_KEY = 'S3cretAccessKey+/Z9pQ==';

interface Case {
  name: string;
  endpoint: string;
  accessKey: string;
  grant: Grant;
}

function grant(overrides: Partial<Grant> = {}): Grant {
  return {
    hub: 'chat',
    userId: 'alice',
    groups: ['room.1', 'user.alice'],
    roles: ['webpubsub.sendToGroup.room.1', 'webpubsub.joinLeaveGroups.room.*'],
    protocol: 'default',
    lifetimeMinutes: 60,
    ...overrides,
  };
}

const CASES: Case[] = [
  {
    name: 'https endpoint, default protocol',
    endpoint: 'https://contoso.webpubsub.azure.com',
    accessKey: ACCESS_KEY,
    grant: grant(),
  },
  {
    name: 'local http endpoint with a port',
    endpoint: 'http://localhost:8080',
    accessKey: ACCESS_KEY,
    grant: grant(),
  },
  {
    name: 'explicit https port',
    endpoint: 'https://contoso.webpubsub.azure.com:8443',
    accessKey: ACCESS_KEY,
    grant: grant(),
  },
  {
    name: 'mqtt',
    endpoint: 'https://contoso.webpubsub.azure.com',
    accessKey: ACCESS_KEY,
    grant: grant({ protocol: 'mqtt' }),
  },
  {
    name: 'socketio',
    endpoint: 'https://contoso.webpubsub.azure.com',
    accessKey: ACCESS_KEY,
    grant: grant({ protocol: 'socketio' }),
  },
  {
    name: 'no roles, no groups',
    endpoint: 'https://contoso.webpubsub.azure.com',
    accessKey: ACCESS_KEY,
    grant: grant({ roles: [], groups: [] }),
  },
  {
    name: 'mixed-case hub, unicode user and group, one minute',
    endpoint: 'https://contoso.webpubsub.azure.com',
    accessKey: ACCESS_KEY,
    grant: grant({ hub: 'Chat_Hub', userId: 'zoë 🚀', groups: ['salle ü', 'a,b'], lifetimeMinutes: 1 }),
  },
  {
    name: 'a non-ASCII access key (keyed by its UTF-8 bytes) and a day-long token',
    endpoint: 'https://contoso.webpubsub.azure.com',
    accessKey: 'clé-секрет-🔑',
    grant: grant({ lifetimeMinutes: 1440 }),
  },
];

async function sdkToken(testCase: Case) {
  const client = new WebPubSubServiceClient(
    testCase.endpoint,
    new AzureKeyCredential(testCase.accessKey),
    testCase.grant.hub,
    { allowInsecureConnection: testCase.endpoint.startsWith('http:') },
  );
  const protocol: ClientProtocol = testCase.grant.protocol;
  return client.getClientAccessToken({
    userId: testCase.grant.userId,
    roles: testCase.grant.roles,
    groups: testCase.grant.groups,
    expirationTimeInMinutes: testCase.grant.lifetimeMinutes,
    ...(protocol === 'default' ? {} : { clientProtocol: protocol }),
  });
}

function ours(testCase: Case, now: () => number = Date.now): IssuedToken {
  const issuer = createKeyTokenIssuer(new URL(testCase.endpoint), testCase.accessKey, now);
  return issuer.issue(testCase.grant, silentLogger) as IssuedToken;
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('key-mode client tokens against @azure/web-pubsub getClientAccessToken', () => {
  it.each(CASES.map((testCase) => [testCase.name, testCase] as const))(
    '%s: the same claims and header; iat/exp differ by time only',
    async (_name, testCase) => {
      const reference = await sdkToken(testCase);
      const mine = ours(testCase);
      expect(decodeHeader(mine.token)).toEqual(decodeHeader(reference.token));
      const theirs = decodePayload(reference.token);
      const payload = decodePayload(mine.token);
      const { iat: theirIat, exp: theirExp, ...theirClaims } = theirs as { iat: number; exp: number };
      const { iat, exp, ...claims } = payload as { iat: number; exp: number };
      expect(claims).toEqual(theirClaims);
      expect(Object.keys(payload)).toEqual(Object.keys(theirs));
      expect(exp - iat).toBe(theirExp - theirIat);
      expect(Math.abs(iat - theirIat)).toBeLessThanOrEqual(1);
      expect(mine.baseUrl).toBe(reference.baseUrl);
    },
  );

  it.each(CASES.map((testCase) => [testCase.name, testCase] as const))(
    '%s: with the clock held still, byte for byte the same token and URL',
    async (_name, testCase) => {
      const instant = Date.parse('2030-05-04T03:02:01.678Z');
      jest.spyOn(Date, 'now').mockReturnValue(instant);
      const reference = await sdkToken(testCase);
      const mine = ours(testCase, () => instant);
      expect(mine.token).toBe(reference.token);
      expect(mine.url).toBe(reference.url);
      expect(mine.baseUrl).toBe(reference.baseUrl);
      expect(mine.expiresOn.getTime()).toBe((decodePayload(reference.token).exp as number) * 1000);
    },
  );

  it('verifies with jose as HS256 under the UTF-8 bytes of the access key, for the client endpoint audience', async () => {
    const testCase = CASES[CASES.length - 1] as Case;
    const mine = ours(testCase);
    const { payload, protectedHeader } = await jwtVerify(
      mine.token,
      new TextEncoder().encode(testCase.accessKey),
      { algorithms: ['HS256'], audience: 'https://contoso.webpubsub.azure.com/client/hubs/chat' },
    );
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({
      sub: 'alice',
      role: testCase.grant.roles,
      'webpubsub.group': testCase.grant.groups,
    });
    // Not under the key's latin1 or base64-decoded bytes: the service uses the UTF-8 string.
    await expect(
      jwtVerify(mine.token, Buffer.from(testCase.accessKey, 'latin1'), { algorithms: ['HS256'] }),
    ).rejects.toThrow();
  });

  it('derives the key once, as a KeyObject, and signs every token with that same object', () => {
    // The module object itself (an ES namespace import would be a copy that the code under test never calls).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeCrypto = require('node:crypto') as typeof import('node:crypto');
    const created = jest.spyOn(nodeCrypto, 'createSecretKey');
    const hmac = jest.spyOn(nodeCrypto, 'createHmac');
    const issuer = createKeyTokenIssuer(new URL('https://contoso.webpubsub.azure.com'), ACCESS_KEY);
    for (let i = 0; i < 5; i++) void issuer.issue(grant({ userId: `user-${i}` }), silentLogger);
    expect(created).toHaveBeenCalledTimes(1);
    expect(hmac).toHaveBeenCalledTimes(5);
    const keys = new Set(hmac.mock.calls.map((call) => call[1]));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toBe(created.mock.results[0]?.value);
    expect(([...keys][0] as import('node:crypto').KeyObject).type).toBe('secret');
  });

  it('the URL is the ws(s) form of the endpoint with the token as access_token', () => {
    const secure = ours(CASES[0] as Case);
    expect(secure.url).toBe(
      `wss://contoso.webpubsub.azure.com/client/hubs/chat?access_token=${secure.token}`,
    );
    const local = ours(CASES[1] as Case);
    expect(local.baseUrl).toBe('ws://localhost:8080/client/hubs/chat');
  });
});
