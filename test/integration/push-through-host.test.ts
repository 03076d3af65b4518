import { randomBytes } from 'node:crypto';
import { odata } from '@azure/web-pubsub';
import { startPushHost, type PushHost } from '../support/push-host';
import { PUSH_AUDIENCE, PUSH_ISSUER, startTestIssuer, type TestIssuer } from '../support/push-identity';
import {
  operationQuery,
  startServiceStandIn,
  type RecordedRequest,
  type ServiceStandIn,
} from '../support/push-service-stand-in';

/**
 * Every push route, through the local Functions host, against a stand-in that records what
 * @azure/web-pubsub sends: the service paths, methods, query and statuses are the REST API's
 * (api-version 2024-12-01, as the SDK's generated operation specs and the REST reference give them).
 * Bearer mode and function keys are on, as in production.
 */
const FUNCTION_KEY = 'push-test-function-key';
const API_VERSION = '2024-12-01';

let service: ServiceStandIn;
let issuer: TestIssuer;
let app: PushHost;
let token: string;

beforeAll(async () => {
  service = await startServiceStandIn();
  issuer = await startTestIssuer();
  app = await startPushHost(
    {
      WebPubSubConnectionString: `Endpoint=${service.endpoint};AccessKey=${service.accessKey};Version=1.0;`,
      WebPubSubHub: 'chat',
      WebPubSubHubs: 'Other_Hub',
      PushApiAudience: PUSH_AUDIENCE,
      PushApiIssuers: PUSH_ISSUER,
      PushApiJwksUri: issuer.jwksUri,
    },
    { functionKey: FUNCTION_KEY },
  );
  token = await issuer.token({ roles: ['Messages.Send', 'Groups.Manage'] });
});

afterAll(async () => {
  await app.close();
  await service.close();
  await issuer.close();
});

beforeEach(() => service.reset());

interface Call {
  method: string;
  path: string;
  contentType?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

function call({ method, path, contentType, body, headers }: Call): Promise<Response> {
  return fetch(app.url(path), {
    method,
    headers: {
      'x-functions-key': FUNCTION_KEY,
      authorization: `Bearer ${token}`,
      ...(contentType === undefined ? {} : { 'content-type': contentType }),
      ...headers,
    },
    body,
  });
}

function onlyRequest(): RecordedRequest {
  expect(service.requests).toHaveLength(1);
  const request = service.requests[0]!;
  expect(request.authorized).toBe(true);
  expect(request.query.filter(([name]) => name === 'api-version')).toEqual([['api-version', API_VERSION]]);
  return request;
}

interface RouteCase extends Call {
  name: string;
  status: number;
  service: {
    method: string;
    rawPath: string;
    query?: [string, string][];
    contentType?: string;
    body?: string | Buffer;
  };
}

const JSON_BODY = '{"n":12345678901234567890,"s":"é","nested":{"a":[1,2]}}';

const ROUTES: RouteCase[] = [
  {
    name: 'send to all: JSON with filter, repeated excluded and ttl',
    method: 'POST',
    path: `/hubs/chat/messages?filter=${encodeURIComponent("userId ne 'o''neil'")}&excluded=c1&excluded=c2&ttl=10`,
    contentType: 'application/json',
    body: JSON_BODY,
    status: 202,
    service: {
      method: 'POST',
      rawPath: '/api/hubs/chat/:send',
      query: [
        ['excluded', 'c1'],
        ['excluded', 'c2'],
        ['filter', "userId ne 'o''neil'"],
        ['messageTtlSeconds', '10'],
      ],
      contentType: 'application/json',
      body: JSON_BODY,
    },
  },
  {
    name: 'send to a user whose id holds a slash and a space: text',
    method: 'POST',
    path: `/hubs/chat/users/${encodeURIComponent('user/with space')}/messages?ttl=300`,
    contentType: 'text/plain; charset=utf-8',
    body: 'héllo ☃',
    status: 202,
    service: {
      method: 'POST',
      rawPath: '/api/hubs/chat/users/user%2Fwith%20space/:send',
      query: [['messageTtlSeconds', '300']],
      contentType: 'text/plain',
      body: 'héllo ☃',
    },
  },
  {
    name: 'send to a group with a non-ASCII name: binary',
    method: 'POST',
    path: `/hubs/chat/groups/${encodeURIComponent('group 1/ü')}/messages?excluded=c3`,
    contentType: 'application/octet-stream',
    body: Buffer.from([0, 1, 2, 255, 254]),
    status: 202,
    service: {
      method: 'POST',
      rawPath: '/api/hubs/chat/groups/group%201%2F%C3%BC/:send',
      query: [['excluded', 'c3']],
      contentType: 'application/octet-stream',
      body: Buffer.from([0, 1, 2, 255, 254]),
    },
  },
  {
    name: 'send to a connection with ttl 0',
    method: 'POST',
    path: '/hubs/chat/connections/conn1/messages?ttl=0',
    contentType: 'application/json',
    body: '"just a string"',
    status: 202,
    service: {
      method: 'POST',
      rawPath: '/api/hubs/chat/connections/conn1/:send',
      query: [['messageTtlSeconds', '0']],
      contentType: 'application/json',
      body: '"just a string"',
    },
  },
  {
    name: 'add a user to a group',
    method: 'PUT',
    path: '/hubs/chat/groups/g1/users/u1',
    status: 204,
    service: { method: 'PUT', rawPath: '/api/hubs/chat/users/u1/groups/g1', query: [] },
  },
  {
    name: 'remove a user from a group',
    method: 'DELETE',
    path: '/hubs/chat/groups/g1/users/u1',
    status: 204,
    service: { method: 'DELETE', rawPath: '/api/hubs/chat/users/u1/groups/g1', query: [] },
  },
  {
    name: 'add a connection to a group',
    method: 'PUT',
    path: '/hubs/chat/groups/g1/connections/c1',
    status: 204,
    service: { method: 'PUT', rawPath: '/api/hubs/chat/groups/g1/connections/c1', query: [] },
  },
  {
    name: 'remove a connection from a group',
    method: 'DELETE',
    path: '/hubs/chat/groups/g1/connections/c1',
    status: 204,
    service: { method: 'DELETE', rawPath: '/api/hubs/chat/groups/g1/connections/c1', query: [] },
  },
  {
    name: 'close a connection with a reason',
    method: 'DELETE',
    path: '/hubs/chat/connections/c1?reason=bye%20now',
    status: 204,
    service: { method: 'DELETE', rawPath: '/api/hubs/chat/connections/c1', query: [['reason', 'bye now']] },
  },
  {
    name: 'connection exists',
    method: 'HEAD',
    path: '/hubs/chat/connections/c1',
    status: 200,
    service: { method: 'HEAD', rawPath: '/api/hubs/chat/connections/c1', query: [] },
  },
  {
    name: "close a user's connections but one",
    method: 'DELETE',
    path: '/hubs/chat/users/u1/connections?reason=r&excluded=c9',
    status: 204,
    service: {
      method: 'POST',
      rawPath: '/api/hubs/chat/users/u1/:closeConnections',
      query: [
        ['excluded', 'c9'],
        ['reason', 'r'],
      ],
    },
  },
  {
    name: 'user online',
    method: 'HEAD',
    path: '/hubs/chat/users/u1/connections',
    status: 200,
    service: { method: 'HEAD', rawPath: '/api/hubs/chat/users/u1', query: [] },
  },
  {
    name: "close a group's connections but two",
    method: 'DELETE',
    path: '/hubs/chat/groups/g1/connections?excluded=a&excluded=b&reason=x',
    status: 204,
    service: {
      method: 'POST',
      rawPath: '/api/hubs/chat/groups/g1/:closeConnections',
      query: [
        ['excluded', 'a'],
        ['excluded', 'b'],
        ['reason', 'x'],
      ],
    },
  },
  {
    name: 'group exists',
    method: 'HEAD',
    path: '/hubs/chat/groups/g1/connections',
    status: 200,
    service: { method: 'HEAD', rawPath: '/api/hubs/chat/groups/g1', query: [] },
  },
  {
    name: 'list a group, one page',
    method: 'GET',
    path: '/hubs/chat/groups/g1/connections?maxPageSize=2',
    status: 200,
    service: {
      method: 'GET',
      rawPath: '/api/hubs/chat/groups/g1/connections',
      query: [['maxpagesize', '2']],
    },
  },
  {
    name: 'grant a permission',
    method: 'PUT',
    path: '/hubs/chat/connections/c1/permissions/sendToGroup?targetName=g1',
    status: 204,
    service: {
      method: 'PUT',
      rawPath: '/api/hubs/chat/permissions/sendToGroup/connections/c1',
      query: [['targetName', 'g1']],
    },
  },
  {
    name: 'revoke a permission',
    method: 'DELETE',
    path: '/hubs/chat/connections/c1/permissions/joinLeaveGroup?targetName=g%202',
    status: 204,
    service: {
      method: 'DELETE',
      rawPath: '/api/hubs/chat/permissions/joinLeaveGroup/connections/c1',
      query: [['targetName', 'g 2']],
    },
  },
  {
    name: 'check a permission',
    method: 'HEAD',
    path: '/hubs/chat/connections/c1/permissions/joinLeaveGroup?targetName=g1',
    status: 200,
    service: {
      method: 'HEAD',
      rawPath: '/api/hubs/chat/permissions/joinLeaveGroup/connections/c1',
      query: [['targetName', 'g1']],
    },
  },
  {
    name: 'a hub named in another case goes out as configured',
    method: 'POST',
    path: '/hubs/other_hub/messages',
    contentType: 'text/plain',
    body: 'x',
    status: 202,
    service: {
      method: 'POST',
      rawPath: '/api/hubs/Other_Hub/:send',
      query: [],
      contentType: 'text/plain',
      body: 'x',
    },
  },
];

describe('each push route makes exactly the service call the REST API defines', () => {
  it.each(ROUTES.map((route) => [route.name, route] as const))('%s', async (_name, route) => {
    const response = await call(route);
    expect(response.status).toBe(route.status);
    const request = onlyRequest();
    expect(request.method).toBe(route.service.method);
    expect(request.rawPath).toBe(route.service.rawPath);
    if (route.service.query !== undefined) expect(operationQuery(request)).toEqual(route.service.query);
    if (route.service.contentType !== undefined) {
      expect(request.headers['content-type']).toBe(route.service.contentType);
    }
    if (route.service.body !== undefined) {
      expect(request.body.equals(Buffer.from(route.service.body))).toBe(true);
    }
    // The id we answer with is the one the service call carried.
    expect(response.headers.get('x-ms-client-request-id')).toBe(request.headers['x-ms-client-request-id']);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('covers every push registration', () => {
    const registered = app.host.functions
      .filter((fn) => fn.route.startsWith('hubs/'))
      .map((fn) => `${fn.methods.join(',')} ${fn.route}`)
      .sort();
    const covered = new Set(
      ROUTES.map((route) => {
        const path = new URL(route.path, 'http://x').pathname.slice(1);
        const fn = app.host.functions.find(
          (candidate) =>
            candidate.methods.includes(route.method) &&
            new RegExp(`^${candidate.route.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
        );
        return `${route.method} ${fn?.route ?? path}`;
      }),
    );
    expect(registered).toHaveLength(18);
    expect([...covered].sort()).toEqual(registered);
  });
});

describe('messages pass through byte for byte', () => {
  it('keeps a JSON body as sent (no re-serialisation that would round big numbers)', async () => {
    const body = '{ "id" : 9007199254740993 ,"list":[ 1.50 ] }';
    const response = await call({
      method: 'POST',
      path: '/hubs/chat/messages',
      contentType: 'application/json',
      body,
    });
    expect(response.status).toBe(202);
    expect(onlyRequest().body.toString('utf8')).toBe(body);
  });

  it('keeps a text body with a byte order mark and astral characters', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('𝄞 text\r\n', 'utf8')]);
    const response = await call({
      method: 'POST',
      path: '/hubs/chat/messages',
      contentType: 'text/plain',
      body,
    });
    expect(response.status).toBe(202);
    expect(onlyRequest().body.equals(body)).toBe(true);
  });

  it('accepts a binary message of exactly 1 MiB', async () => {
    const body = randomBytes(1024 * 1024);
    const response = await call({
      method: 'POST',
      path: '/hubs/chat/groups/big/messages',
      contentType: 'application/octet-stream',
      body,
    });
    expect(response.status).toBe(202);
    expect(onlyRequest().body.equals(body)).toBe(true);
  });

  it('sends an empty text message as an empty body', async () => {
    const response = await call({
      method: 'POST',
      path: '/hubs/chat/messages',
      contentType: 'text/plain',
      body: '',
    });
    expect(response.status).toBe(202);
    expect(onlyRequest().body).toHaveLength(0);
  });
});

describe('filters built with the SDK odata helper reach the service unchanged', () => {
  const values = ["o'neil", "it''s", 'a b', 'ünï', '(x)', "'", 'semi;colon$', 'line\nbreak'];
  it.each(values)('userId eq %j', async (value) => {
    const filter = odata`userId eq ${value} or ${value} in groups`;
    const response = await call({
      method: 'POST',
      path: `/hubs/chat/messages?filter=${encodeURIComponent(filter)}`,
      contentType: 'text/plain',
      body: 'x',
    });
    expect(response.status).toBe(202);
    expect(operationQuery(onlyRequest())).toEqual([['filter', filter]]);
  });
});

describe('answers', () => {
  it('HEAD exists answers 404 with no body when the service says 404', async () => {
    service.respond(() => ({ status: 404, headers: { 'x-ms-error-code': 'Warning.User.NotExisted' } }));
    const response = await call({ method: 'HEAD', path: '/hubs/chat/users/nobody/connections' });
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('');
    expect(onlyRequest().rawPath).toBe('/api/hubs/chat/users/nobody');
  });

  it('pages a group listing with the continuation token of the service', async () => {
    service.respond((request) => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        request.query.some(([name]) => name === 'continuationToken')
          ? { value: [{ connectionId: 'c3' }] }
          : {
              value: [
                { connectionId: 'c1', userId: 'u1' },
                { connectionId: 'c2', userId: 'u2' },
              ],
              nextLink: `/api/hubs/chat/groups/g1/connections?api-version=${API_VERSION}&maxpagesize=2&continuationToken=opaque%2Btoken`,
            },
      ),
    }));
    const first = await call({ method: 'GET', path: '/hubs/chat/groups/g1/connections?maxPageSize=2' });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    const page = (await first.json()) as { value: unknown[]; continuationToken: string; nextLink: string };
    expect(page).toEqual({
      value: [
        { connectionId: 'c1', userId: 'u1' },
        { connectionId: 'c2', userId: 'u2' },
      ],
      continuationToken: 'opaque+token',
      nextLink: '/api/hubs/chat/groups/g1/connections?continuationToken=opaque%2Btoken&maxPageSize=2',
    });
    // One service call per page, never the SDK's automatic walk over every page.
    expect(service.requests).toHaveLength(1);

    const second = await call({ method: 'GET', path: page.nextLink.replace(/^\/api/, '') });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ value: [{ connectionId: 'c3', userId: null }] });
    expect(service.requests).toHaveLength(2);
    expect(operationQuery(service.requests[1]!)).toEqual([
      ['maxpagesize', '2'],
      ['continuationToken', 'opaque+token'],
    ]);
  });

  it("carries the caller's request id to the service and back, with the service's own id", async () => {
    const response = await call({
      method: 'PUT',
      path: '/hubs/chat/groups/g1/connections/c1',
      headers: { 'x-ms-client-request-id': 'order-42.attempt-1' },
    });
    expect(response.status).toBe(204);
    expect(onlyRequest().headers['x-ms-client-request-id']).toBe('order-42.attempt-1');
    expect(response.headers.get('x-ms-client-request-id')).toBe('order-42.attempt-1');
    expect(response.headers.get('x-ms-request-id')).toBe('svc-put');
  });

  it('replaces a request id that is not a plain token with a fresh UUID', async () => {
    const response = await call({
      method: 'DELETE',
      path: '/hubs/chat/connections/c1',
      headers: { 'x-ms-client-request-id': 'has spaces and "quotes"' },
    });
    expect(response.status).toBe(204);
    const sent = onlyRequest().headers['x-ms-client-request-id'];
    expect(sent).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(response.headers.get('x-ms-client-request-id')).toBe(sent);
  });

  it('passes a 404 of the service on (adding a connection that does not exist)', async () => {
    service.respond(() => ({
      status: 404,
      headers: { 'content-type': 'application/json', 'x-ms-error-code': 'Error.Connection.NotExisted' },
      body: JSON.stringify({ code: 'Error.Connection.NotExisted', message: 'Connection `c0` is not found.' }),
    }));
    const response = await call({ method: 'PUT', path: '/hubs/chat/groups/g1/connections/c0' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as { type: string; detail: string };
    expect(problem.type).toBe('urn:webpubsub-functions:problem:not-found');
    expect(problem.detail).toContain('Connection `c0` is not found.');
    expect(service.requests).toHaveLength(1);
  });

  it('passes the service refusing a filter on as 400 with its reason', async () => {
    service.respond(() => ({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'InvalidFilter', message: "Invalid syntax for 'userId eq eq'." }),
    }));
    const response = await call({
      method: 'POST',
      path: `/hubs/chat/messages?filter=${encodeURIComponent('userId eq eq')}`,
      contentType: 'text/plain',
      body: 'x',
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { type: string; detail: string };
    expect(problem.type).toBe('urn:webpubsub-functions:problem:service-rejected-request');
    expect(problem.detail).toContain("Invalid syntax for 'userId eq eq'.");
  });

  it('answers 502 when the service refuses our credentials', async () => {
    service.respond(() => ({ status: 401 }));
    const response = await call({ method: 'PUT', path: '/hubs/chat/groups/g1/users/u1' });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { type: string }).type).toMatch(/service-authentication-failed$/);
  });

  it('never logs the bearer token, the function key or the access key', () => {
    const log = app.logLines.join('\n');
    expect(log).not.toContain(token);
    expect(log).not.toContain(FUNCTION_KEY);
    expect(log).not.toContain(service.accessKey);
  });
});

describe('GET /api/openapi.json', () => {
  it('serves the OpenAPI 3.1 document anonymously, with the configured roles', async () => {
    const response = await fetch(app.url('/openapi.json'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.paths['/hubs/{hub}/messages']?.post?.security).toEqual([
      { functionKey: [], bearer: ['Messages.Send'] },
      { functionKeyQuery: [], bearer: ['Messages.Send'] },
    ]);
    expect(document.paths['/hubs/{hub}/groups/{group}/connections']?.get?.security).toEqual([
      { functionKey: [], bearer: ['Groups.Manage'] },
      { functionKeyQuery: [], bearer: ['Groups.Manage'] },
    ]);
  });
});
