import { startPushHost, type PushHost } from '../support/push-host';
import { PUSH_AUDIENCE, PUSH_ISSUER, startTestIssuer, type TestIssuer } from '../support/push-identity';
import { startServiceStandIn, type ServiceStandIn } from '../support/push-service-stand-in';

/**
 * Bad input through the local host, in production mode (function key and bearer token with app roles):
 * each request gets its precise status and problem type, and the service is never called.
 */
const FUNCTION_KEY = 'bad-input-function-key';
const TYPE = 'urn:webpubsub-functions:problem:';

type TokenKind =
  | 'both'
  | 'send'
  | 'manage'
  | 'no-roles'
  | 'expired'
  | 'wrong-audience'
  | 'wrong-issuer'
  | 'impostor'
  | 'roles-not-strings';

let service: ServiceStandIn;
let issuer: TestIssuer;
let app: PushHost;
const tokens = new Map<TokenKind, string>();

beforeAll(async () => {
  service = await startServiceStandIn();
  issuer = await startTestIssuer();
  app = await startPushHost(
    {
      WebPubSubConnectionString: `Endpoint=${service.endpoint};AccessKey=${service.accessKey};Version=1.0;`,
      WebPubSubHub: 'chat',
      PushApiAudience: PUSH_AUDIENCE,
      PushApiIssuers: PUSH_ISSUER,
      PushApiJwksUri: issuer.jwksUri,
    },
    { functionKey: FUNCTION_KEY },
  );
  tokens.set('both', await issuer.token({ roles: ['Messages.Send', 'Groups.Manage'] }));
  tokens.set('send', await issuer.token({ roles: ['Messages.Send'] }));
  tokens.set('manage', await issuer.token({ roles: ['Groups.Manage'] }));
  tokens.set('no-roles', await issuer.token());
  tokens.set('expired', await issuer.token({ roles: ['Messages.Send'], expiresIn: -3600 }));
  tokens.set(
    'wrong-audience',
    await issuer.token({ roles: ['Messages.Send'], audience: 'api://someone-else' }),
  );
  tokens.set(
    'wrong-issuer',
    await issuer.token({ roles: ['Messages.Send'], issuer: 'https://evil.example.com/' }),
  );
  tokens.set('impostor', await issuer.token({ roles: ['Messages.Send'], impostor: true }));
  tokens.set('roles-not-strings', await issuer.token({ roles: [{ value: 'Messages.Send' }, 1] }));
});

afterAll(async () => {
  await app.close();
  await service.close();
  await issuer.close();
});

interface BadCase {
  name: string;
  method: string;
  path: string;
  contentType?: string;
  body?: string | Buffer;
  /** Default: a token with both roles. */
  token?: TokenKind | 'none';
  authorization?: string;
  /** Default: the right function key. */
  functionKey?: string | null;
  status: number;
  /** Problem type code; omitted for the host's own refusals (no body) and HEAD. */
  code?: string;
}

const send = (
  path: string,
  query = '',
  body: Partial<BadCase> = {},
): Pick<BadCase, 'method' | 'path' | 'contentType' | 'body'> => ({
  method: 'POST',
  path: `${path}${query}`,
  contentType: 'application/json',
  body: '{"ok":true}',
  ...body,
});
const toAll = (query = '', body: Partial<BadCase> = {}) => send('/hubs/chat/messages', query, body);
const long = (n: number): string => 'g'.repeat(n);

const CASES: BadCase[] = [
  // Who is calling.
  { name: 'no function key', ...toAll(), functionKey: null, status: 401 },
  { name: 'a wrong function key', ...toAll(), functionKey: 'guess', status: 401 },
  { name: 'no bearer token', ...toAll(), token: 'none', status: 401, code: 'missing-token' },
  {
    name: 'a Basic Authorization header',
    ...toAll(),
    authorization: 'Basic dXNlcjpwYXNz',
    status: 401,
    code: 'invalid-authorization-header',
  },
  {
    name: 'a bearer header with two tokens',
    ...toAll(),
    authorization: 'Bearer a b',
    status: 401,
    code: 'invalid-authorization-header',
  },
  { name: 'an expired token', ...toAll(), token: 'expired', status: 401, code: 'invalid-token' },
  {
    name: 'a token for another audience',
    ...toAll(),
    token: 'wrong-audience',
    status: 401,
    code: 'invalid-token',
  },
  {
    name: 'a token from another issuer',
    ...toAll(),
    token: 'wrong-issuer',
    status: 401,
    code: 'invalid-token',
  },
  {
    name: 'a token signed with a key the issuer does not publish',
    ...toAll(),
    token: 'impostor',
    status: 401,
    code: 'invalid-token',
  },
  {
    name: 'a garbage token',
    ...toAll(),
    authorization: 'Bearer not.a.jwt',
    status: 401,
    code: 'invalid-token',
  },
  {
    name: 'a token without roles, sending',
    ...toAll(),
    token: 'no-roles',
    status: 403,
    code: 'missing-role',
  },
  {
    name: 'roles that are not strings',
    ...toAll(),
    token: 'roles-not-strings',
    status: 403,
    code: 'missing-role',
  },
  { name: 'the manage role only, sending', ...toAll(), token: 'manage', status: 403, code: 'missing-role' },
  {
    name: 'the send role only, adding to a group',
    method: 'PUT',
    path: '/hubs/chat/groups/g/users/u',
    token: 'send',
    status: 403,
    code: 'missing-role',
  },
  {
    name: 'the send role only, closing a connection',
    method: 'DELETE',
    path: '/hubs/chat/connections/c',
    token: 'send',
    status: 403,
    code: 'missing-role',
  },
  {
    name: 'the send role only, granting a permission',
    method: 'PUT',
    path: '/hubs/chat/connections/c/permissions/sendToGroup?targetName=g',
    token: 'send',
    status: 403,
    code: 'missing-role',
  },
  {
    name: 'the send role only, an exists check (HEAD)',
    method: 'HEAD',
    path: '/hubs/chat/users/u/connections',
    token: 'send',
    status: 403,
  },
  {
    name: 'authentication comes before names: no token and a bad hub',
    ...send('/hubs/1bad/messages'),
    token: 'none',
    status: 401,
    code: 'missing-token',
  },

  // Names.
  { name: 'a hub starting with a digit', ...send('/hubs/1chat/messages'), status: 400, code: 'invalid-hub' },
  { name: 'a hub with a dash', ...send('/hubs/chat-room/messages'), status: 400, code: 'invalid-hub' },
  {
    name: 'a hub of 129 characters',
    ...send(`/hubs/h${'a'.repeat(128)}/messages`),
    status: 400,
    code: 'invalid-hub',
  },
  {
    name: 'a hub this app does not serve',
    ...send('/hubs/elsewhere/messages'),
    status: 404,
    code: 'unknown-hub',
  },
  { name: 'a blank group', ...send('/hubs/chat/groups/%20%20/messages'), status: 400, code: 'invalid-group' },
  {
    name: 'a group of 1025 characters',
    ...send(`/hubs/chat/groups/${long(1025)}/messages`),
    status: 400,
    code: 'invalid-group',
  },
  {
    name: 'a group with a line break',
    method: 'PUT',
    path: '/hubs/chat/groups/a%0Ab/users/u',
    status: 400,
    code: 'invalid-group',
  },
  {
    name: 'a blank group in a user membership',
    method: 'DELETE',
    path: '/hubs/chat/groups/%09/users/u',
    status: 400,
    code: 'invalid-group',
  },
  {
    name: 'a permission that does not exist',
    method: 'PUT',
    path: '/hubs/chat/connections/c/permissions/admin?targetName=g',
    status: 400,
    code: 'invalid-permission',
  },
  {
    name: 'a permission in the wrong case',
    method: 'DELETE',
    path: '/hubs/chat/connections/c/permissions/SendToGroup?targetName=g',
    status: 400,
    code: 'invalid-permission',
  },
  {
    name: 'a grant without targetName',
    method: 'PUT',
    path: '/hubs/chat/connections/c/permissions/sendToGroup',
    status: 400,
    code: 'missing-targetname',
  },
  {
    name: 'a blank targetName',
    method: 'DELETE',
    path: '/hubs/chat/connections/c/permissions/joinLeaveGroup?targetName=%20',
    status: 400,
    code: 'invalid-target-name',
  },
  {
    name: 'a targetName of 1025 characters',
    method: 'PUT',
    path: `/hubs/chat/connections/c/permissions/sendToGroup?targetName=${long(1025)}`,
    status: 400,
    code: 'invalid-target-name',
  },

  // Query parameters.
  { name: 'ttl -1', ...toAll('?ttl=-1'), status: 400, code: 'invalid-ttl' },
  { name: 'ttl 301', ...toAll('?ttl=301'), status: 400, code: 'invalid-ttl' },
  { name: 'ttl 1.5', ...toAll('?ttl=1.5'), status: 400, code: 'invalid-ttl' },
  { name: 'ttl in hex', ...toAll('?ttl=0x10'), status: 400, code: 'invalid-ttl' },
  { name: 'ttl empty', ...toAll('?ttl='), status: 400, code: 'invalid-ttl' },
  { name: 'ttl given twice', ...toAll('?ttl=1&ttl=2'), status: 400, code: 'duplicate-query-parameter' },
  { name: 'an empty filter', ...toAll('?filter='), status: 400, code: 'invalid-filter' },
  {
    name: 'a filter with an unterminated string',
    ...toAll(`?filter=${encodeURIComponent("userId eq 'a")}`),
    status: 400,
    code: 'invalid-filter',
  },
  {
    name: 'a filter with double quotes',
    ...toAll(`?filter=${encodeURIComponent('userId eq "a"')}`),
    status: 400,
    code: 'invalid-filter',
  },
  {
    name: 'a filter with a semicolon',
    ...toAll(`?filter=${encodeURIComponent("userId eq 'a';drop")}`),
    status: 400,
    code: 'invalid-filter',
  },
  {
    name: 'a filter with a NUL character',
    ...toAll('?filter=userId%00'),
    status: 400,
    code: 'invalid-filter',
  },
  {
    name: 'a filter with a dollar',
    ...toAll(`?filter=${encodeURIComponent('$userId eq null')}`),
    status: 400,
    code: 'invalid-filter',
  },
  {
    name: 'a filter with an unclosed parenthesis',
    ...toAll(`?filter=${encodeURIComponent("(userId eq 'a'")}`),
    status: 400,
    code: 'invalid-filter',
  },
  { name: 'a filter twice', ...toAll('?filter=a&filter=b'), status: 400, code: 'duplicate-query-parameter' },
  { name: 'an empty excluded', ...toAll('?excluded=c1&excluded='), status: 400, code: 'invalid-excluded' },
  {
    name: 'excluded on a send to a user',
    ...send('/hubs/chat/users/u/messages', '?excluded=c1'),
    status: 400,
    code: 'unsupported-query-parameter',
  },
  {
    name: 'a filter on a send to a connection',
    ...send('/hubs/chat/connections/c/messages', '?filter=userId%20eq%20null'),
    status: 400,
    code: 'unsupported-query-parameter',
  },
  {
    name: 'ttl on a membership change',
    method: 'PUT',
    path: '/hubs/chat/groups/g/users/u?ttl=5',
    status: 400,
    code: 'unsupported-query-parameter',
  },
  { name: 'an unknown query parameter', ...toAll('?foo=bar'), status: 400, code: 'unknown-query-parameter' },
  {
    name: 'a query parameter in the wrong case',
    ...toAll('?TTL=5'),
    status: 400,
    code: 'unknown-query-parameter',
  },
  {
    name: 'maxPageSize 0',
    method: 'GET',
    path: '/hubs/chat/groups/g/connections?maxPageSize=0',
    status: 400,
    code: 'invalid-maxpagesize',
  },
  {
    name: 'maxPageSize 201',
    method: 'GET',
    path: '/hubs/chat/groups/g/connections?maxPageSize=201',
    status: 400,
    code: 'invalid-maxpagesize',
  },
  {
    name: 'an empty continuation token',
    method: 'GET',
    path: '/hubs/chat/groups/g/connections?continuationToken=',
    status: 400,
    code: 'invalid-continuation-token',
  },

  // Bodies.
  {
    name: 'no Content-Type',
    // Bytes: fetch would label a string body text/plain itself.
    ...toAll('', { contentType: undefined, body: Buffer.from('x') }),
    status: 415,
    code: 'unsupported-media-type',
  },
  {
    name: 'text/html',
    ...toAll('', { contentType: 'text/html', body: '<p>' }),
    status: 415,
    code: 'unsupported-media-type',
  },
  {
    name: 'multipart/form-data',
    ...toAll('', { contentType: 'multipart/form-data; boundary=x', body: '--x--' }),
    status: 415,
    code: 'unsupported-media-type',
  },
  {
    name: 'application/xml',
    ...toAll('', { contentType: 'application/xml', body: '<a/>' }),
    status: 415,
    code: 'unsupported-media-type',
  },
  {
    name: 'text in Latin-1',
    ...toAll('', { contentType: 'text/plain; charset=iso-8859-1', body: 'x' }),
    status: 415,
    code: 'unsupported-media-type',
  },
  { name: 'JSON that does not parse', ...toAll('', { body: '{"a":' }), status: 400, code: 'invalid-json' },
  { name: 'an empty JSON body', ...toAll('', { body: '' }), status: 400, code: 'invalid-json' },
  {
    name: 'JSON that is not UTF-8',
    ...toAll('', { body: Buffer.from([0x22, 0xff, 0x22]) }),
    status: 400,
    code: 'invalid-utf8',
  },
  {
    name: 'text that is not UTF-8',
    ...toAll('', { contentType: 'text/plain', body: Buffer.from([0xc3, 0x28]) }),
    status: 400,
    code: 'invalid-utf8',
  },
  {
    name: 'a message of 1 MiB and one byte',
    ...toAll('', { contentType: 'application/octet-stream', body: Buffer.alloc(1024 * 1024 + 1) }),
    status: 413,
    code: 'payload-too-large',
  },
];

describe('bad input is refused before any service call', () => {
  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    service.reset();
    const headers: Record<string, string> = {};
    if (c.functionKey !== null) headers['x-functions-key'] = c.functionKey ?? FUNCTION_KEY;
    if (c.authorization !== undefined) headers.authorization = c.authorization;
    else if (c.token !== 'none') headers.authorization = `Bearer ${tokens.get(c.token ?? 'both') ?? ''}`;
    if (c.contentType !== undefined) headers['content-type'] = c.contentType;
    const response = await fetch(app.url(c.path), { method: c.method, headers, body: c.body });

    expect(response.status).toBe(c.status);
    if (c.code !== undefined) {
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await response.json()) as { type: string; status: number; detail: string };
      expect(problem.type).toBe(TYPE + c.code);
      expect(problem.status).toBe(c.status);
      expect(problem.detail.length).toBeGreaterThan(10);
    }
    if (c.functionKey === undefined) {
      // Our refusals (not the host's) carry a request id for the caller's logs, though no call was made.
      expect(response.headers.get('x-ms-client-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    if (c.status === 401 && c.functionKey === undefined) {
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="webpubsub-push"/);
    }
    expect(service.requests).toHaveLength(0);
  });
});
