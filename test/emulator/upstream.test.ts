import { createHmac } from 'node:crypto';
import type { Emulator } from '../../emulator';
import { resolveConfig } from '../../emulator/config';
import {
  allEvents,
  clientUrl,
  header,
  refusedStatus,
  serviceClient,
  signToken,
  startEmulator,
  TEST_KEY,
  TestSocket,
  TestWebhook,
  type RecordedRequest,
  type WebhookReply,
} from './helpers';

/**
 * The emulator as the caller of event handlers (catalogue 8.4: UpstreamConnectTests, UpstreamNotification
 * Tests, UpstreamUserEventTests, HttpUpstreamTriggerTests, UpstreamConnectionContextTests,
 * UpstreamEventIntegrationTests), against a recording webhook. The expected signature is computed here with
 * node:crypto from the documented formula, not with the emulator's code.
 */
const JSON_V1 = 'json.webpubsub.azure.v1';
const RELIABLE = 'json.reliable.webpubsub.azure.v1';
const SECONDARY_KEY = 'secondary-key-abcdefghijklmnopqrstuvwxyz-0123456789';
const CONNECT = 'azure.webpubsub.sys.connect';
const CONNECTED = 'azure.webpubsub.sys.connected';
const DISCONNECTED = 'azure.webpubsub.sys.disconnected';

let webhook: TestWebhook;
let emulator: Emulator;
/** Per-hub answers; the hub is the first path segment of `${webhook.url}/{hub}/{event}`. */
const routes = new Map<
  string,
  (request: RecordedRequest) => WebhookReply | Promise<WebhookReply> | undefined
>();
const sockets: TestSocket[] = [];

function hubOf(request: RecordedRequest): string {
  return request.url.split('/')[1] ?? '';
}

beforeAll(async () => {
  webhook = await TestWebhook.start();
  webhook.responder = (request) => routes.get(hubOf(request))?.(request);
  emulator = await startEmulator({
    secondaryAccessKey: SECONDARY_KEY,
    retryDelaysMs: [20, 60, 100],
    reliableRecoveryWindowMs: 300,
    limits: { maxHandlerResponseBytes: 1024 },
    hubs: {
      '*': allEvents(`${webhook.url}/{hub}/{event}`),
      routing: {
        eventHandlers: [
          {
            urlTemplate: `${webhook.url}/routing/A/{event}`,
            systemEvents: ['connected'],
            userEventPattern: 'a, B',
          },
          {
            urlTemplate: `${webhook.url}/routing/B/{event}`,
            systemEvents: ['connected', 'disconnected'],
            userEventPattern: '*',
          },
        ],
      },
      nohandler: { eventHandlers: [] },
      badvalidation: allEvents(`${webhook.url}/badvalidation/{event}`),
    },
  });
});

afterEach(() => {
  routes.clear();
});

afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await emulator.close();
  await webhook.close();
});

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function open(url: string, protocols?: string | string[], options = {}): Promise<TestSocket> {
  const socket = await TestSocket.open(url, protocols, options);
  sockets.push(socket);
  return socket;
}

function signature(connectionId: string): string {
  const sign = (key: string): string =>
    `sha256=${createHmac('sha256', Buffer.from(key, 'utf8')).update(connectionId, 'utf8').digest('hex')}`;
  return `${sign(TEST_KEY)},${sign(SECONDARY_KEY)}`;
}

function eventsOf(connectionId: string, type?: string): RecordedRequest[] {
  return webhook.events(type).filter((request) => request.headers['ce-connectionid'] === connectionId);
}

function waitForEvent(type: string, connectionId: string, count = 1): Promise<RecordedRequest[]> {
  return webhook.waitFor(
    (request) => request.headers['ce-type'] === type && request.headers['ce-connectionid'] === connectionId,
    count,
  );
}

/** The connection id the emulator gave the client whose connect carried `?tag=<tag>`. */
async function connectionIdOf(tag: string): Promise<string> {
  const [connect] = await webhook.waitFor(
    (request) =>
      request.headers['ce-type'] === CONNECT && request.body.toString().includes(`"tag":["${tag}"]`),
  );
  return header(connect as RecordedRequest, 'ce-connectionid') as string;
}

function json(request: RecordedRequest): Record<string, unknown> {
  return JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
}

function utf8Header(request: RecordedRequest, name: string): string | undefined {
  const value = header(request, name);
  return value === undefined ? undefined : Buffer.from(value, 'latin1').toString('utf8');
}

async function jsonClient(
  hub: string,
  options: { userId?: string; roles?: string[]; groups?: string[] } = {},
  protocol = JSON_V1,
): Promise<{ socket: TestSocket; id: string; url: string; token?: string }> {
  const url = await clientUrl(emulator, hub, options);
  const socket = await open(url, protocol);
  const connected = await socket.nextJson();
  return {
    socket,
    id: connected.connectionId as string,
    url,
    token: connected.reconnectionToken as string | undefined,
  };
}

describe('UpstreamConnectTests', () => {
  it('UpstreamConnectTests.ConnectGatesUpgradeStripsCredentialsAndPreservesContext', async () => {
    const release = deferred<WebhookReply>();
    routes.set('gate', (request) => {
      if (request.headers['ce-type'] === CONNECT) return release.promise;
      return undefined;
    });
    const url = `${await clientUrl(emulator, 'gate', { userId: 'u1', roles: ['r1', 'r2'] })}&extra=1&extra=2`;
    let opened = false;
    const opening = open(url, JSON_V1, { headers: { 'X-Custom': 'kept', Cookie: 'client=1' } }).then(
      (socket) => {
        opened = true;
        return socket;
      },
    );
    const [connect] = await webhook.waitForEvent(CONNECT);
    const request = connect as RecordedRequest;
    const connectionId = header(request, 'ce-connectionid') as string;
    // The handshake waits for the handler, and the connection is not visible meanwhile.
    expect(opened).toBe(false);
    expect(await serviceClient(emulator, 'gate').connectionExists(connectionId)).toBe(false);

    expect(request.url).toBe('/gate/connect');
    expect(header(request, 'ce-id')).toBe('0');
    expect(header(request, 'ce-userid')).toBe('u1');
    expect(header(request, 'ce-subprotocol')).toBeUndefined();
    expect(header(request, 'authorization')).toBeUndefined();
    expect(header(request, 'cookie')).toBeUndefined();
    expect(header(request, 'ce-signature')).toBe(signature(connectionId));
    const token = new URL(url).searchParams.get('access_token') as string;
    expect(request.body.toString()).not.toContain(token);
    const body = json(request);
    expect(body.claims).toMatchObject({
      sub: ['u1'],
      role: ['r1', 'r2'],
      aud: [`http://localhost:${emulator.port}/client/hubs/gate`],
    });
    expect(body.query).toEqual({ extra: ['1', '2'] });
    expect(body.headers).toMatchObject({ 'x-custom': ['kept'], cookie: ['client=1'] });
    expect(body.headers).not.toHaveProperty('authorization');
    expect(body.subprotocols).toEqual([JSON_V1]);
    expect(body.clientCertificates).toEqual([]);

    release.resolve({
      status: 200,
      headers: {
        'Content-Type': 'application/json',
        'ce-connectionState': 'state-1',
        'Set-Cookie': 'affinity=a1; Path=/',
      },
      body: JSON.stringify({ userId: 'ünïcode' }),
    });
    const socket = await opening;
    expect(await socket.nextJson()).toMatchObject({ event: 'connected', userId: 'ünïcode', connectionId });
    const [connected] = await waitForEvent(CONNECTED, connectionId);
    expect(utf8Header(connected as RecordedRequest, 'ce-userid')).toBe('ünïcode');
    expect(header(connected as RecordedRequest, 'ce-subprotocol')).toBe(JSON_V1);
    expect(header(connected as RecordedRequest, 'ce-connectionstate')).toBe('state-1');
    expect(header(connected as RecordedRequest, 'cookie')).toBe('affinity=a1');
    expect(header(connected as RecordedRequest, 'ce-signature')).toBe(signature(connectionId));
    expect(header(connected as RecordedRequest, 'ce-id')).toBe('1');
    await socket.close();
    const [disconnected] = await waitForEvent(DISCONNECTED, connectionId);
    expect(header(disconnected as RecordedRequest, 'ce-id')).toBe('2');
    expect(header(disconnected as RecordedRequest, 'ce-connectionstate')).toBe('state-1');

    // The token may come as a bearer header instead of the query.
    routes.set('gate', () => undefined);
    const viaHeader = await open(`ws://localhost:${emulator.port}/client/hubs/gate`, JSON_V1, {
      headers: {
        Authorization: `Bearer ${await signToken({ aud: `http://localhost:${emulator.port}/client/hubs/gate`, sub: 'h' })}`,
      },
    });
    expect(await viaHeader.nextJson()).toMatchObject({ event: 'connected', userId: 'h' });
  });

  describe('UpstreamConnectTests.ResponseOverridesUseRuntimeSemantics', () => {
    const token = { userId: 'tok', roles: ['webpubsub.joinLeaveGroup'], groups: ['from-token'] };

    async function connectWith(
      reply: WebhookReply,
      protocols: string[] = [JSON_V1],
    ): Promise<{ socket: TestSocket; id: string }> {
      routes.set('override', (request) => (request.headers['ce-type'] === CONNECT ? reply : undefined));
      const socket = await open(await clientUrl(emulator, 'override', token), protocols);
      if (!socket.ws.protocol.startsWith('json.')) return { socket, id: '' };
      const connected = await socket.nextJson();
      return { socket, id: connected.connectionId as string };
    }

    async function inGroup(id: string, group: string): Promise<boolean> {
      const members = [];
      for await (const member of await serviceClient(emulator, 'override').group(group).listConnections())
        members.push(member.connectionId);
      return members.includes(id);
    }

    it('204 or an empty body keeps the token values', async () => {
      const { socket, id } = await connectWith({ status: 204 });
      expect(await inGroup(id, 'from-token')).toBe(true);
      socket.sendJson({ type: 'joinGroup', group: 'x', ackId: 1 });
      expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    });

    it('null keeps the token values, whatever the Content-Type says', async () => {
      const { id } = await connectWith({
        status: 200,
        headers: { 'Content-Type': 'text/plain' },
        body: 'null',
      });
      expect(await inGroup(id, 'from-token')).toBe(true);
    });

    it('groups [] and roles null keep the token groups and roles', async () => {
      const { socket, id } = await connectWith({ status: 200, body: '{"groups":[],"roles":null}' });
      expect(await inGroup(id, 'from-token')).toBe(true);
      socket.sendJson({ type: 'joinGroup', group: 'x', ackId: 1 });
      expect(await socket.nextJson()).toMatchObject({ ackId: 1, success: true });
    });

    it('userId "" and roles [] override: an empty user id, and no roles', async () => {
      const { socket } = await connectWith({ status: 200, body: '{"UserId":"","Roles":[]}' });
      socket.sendJson({ type: 'joinGroup', group: 'x', ackId: 1 });
      expect(await socket.nextJson()).toMatchObject({
        ackId: 1,
        success: false,
        error: { name: 'Forbidden' },
      });
    });

    it('userId null keeps the token user; new groups and roles replace the token ones', async () => {
      const body = '{"userId":null,"groups":["new"],"roles":["webpubsub.sendToGroup.new"]}';
      const { socket, id } = await connectWith({ status: 200, body });
      expect(await inGroup(id, 'from-token')).toBe(false);
      expect(await inGroup(id, 'new')).toBe(true);
      socket.sendJson({
        type: 'sendToGroup',
        group: 'new',
        ackId: 1,
        dataType: 'text',
        data: 'x',
        noEcho: true,
      });
      expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
      expect(await serviceClient(emulator, 'override').userExists('tok')).toBe(true);
    });

    it('a custom subprotocol makes a simple client that gets raw frames', async () => {
      const { socket } = await connectWith({ status: 200, body: '{"subprotocol":"custom.v1"}' }, [
        'custom.v1',
        JSON_V1,
      ]);
      expect(socket.ws.protocol).toBe('custom.v1');
      await serviceClient(emulator, 'override')
        .group('from-token')
        .sendToAll(new Uint8Array([9, 8]));
      expect(await socket.next()).toEqual({ data: Buffer.from([9, 8]), isBinary: true });
    });

    it('the reliable subprotocol can be chosen by the handler', async () => {
      routes.set('override', (request) =>
        request.headers['ce-type'] === CONNECT
          ? { status: 200, body: JSON.stringify({ subprotocol: RELIABLE }) }
          : undefined,
      );
      const socket = await open(await clientUrl(emulator, 'override', token), [JSON_V1, RELIABLE]);
      expect(socket.ws.protocol).toBe(RELIABLE);
      expect(await socket.nextJson()).toMatchObject({
        event: 'connected',
        reconnectionToken: expect.any(String),
      });
    });
  });

  it('UpstreamConnectTests.FailedConnectNeverActivatesOrNotifies', async () => {
    const replies = new Map<string, WebhookReply>([
      ['s401', { status: 401, body: 'secret reason' }],
      ['s403', { status: 403 }],
      ['s429', { status: 429 }],
      ['notjson', { status: 200, body: 'not-json' }],
      ['nullgroup', { status: 200, body: '{"groups":[null]}' }],
      ['blankgroup', { status: 200, body: '{"groups":["  "]}' }],
      ['nullrole', { status: 200, body: '{"roles":[null]}' }],
      ['unoffered', { status: 200, body: '{"subprotocol":"other"}' }],
    ]);
    routes.set('failing', (request) => {
      if (request.headers['ce-type'] !== CONNECT) return undefined;
      const tag = (json(request).query as Record<string, string[]>).tag?.[0] ?? '';
      return replies.get(tag);
    });
    const base = await clientUrl(emulator, 'failing');
    const expected: Record<string, number> = {
      s401: 401,
      s403: 403,
      s429: 429,
      notjson: 500,
      nullgroup: 500,
      blankgroup: 500,
      nullrole: 500,
      unoffered: 500,
    };
    for (const [tag, status] of Object.entries(expected)) {
      expect([tag, await refusedStatus(`${base}&tag=${tag}`, JSON_V1)]).toEqual([tag, status]);
    }
    const ok = await open(`${base}&tag=ok`, JSON_V1);
    const okId = (await ok.nextJson()).connectionId as string;
    await waitForEvent(CONNECTED, okId);
    const failedIds = await Promise.all(Object.keys(expected).map(connectionIdOf));
    for (const id of failedIds) {
      expect(eventsOf(id, CONNECTED)).toEqual([]);
      expect(eventsOf(id, DISCONNECTED)).toEqual([]);
    }
  });

  it('UpstreamConnectTests.OversizedResponseIsRejectedWithOrWithoutContentLength', async () => {
    const big = JSON.stringify({ userId: 'x'.repeat(2000) });
    routes.set('oversized', (request) => {
      if (request.headers['ce-type'] !== CONNECT) return undefined;
      const chunked = request.body.toString().includes('"tag":["chunked"]');
      return chunked
        ? { status: 200, headers: { 'Transfer-Encoding': 'chunked' }, body: big }
        : { status: 200, headers: { 'Content-Length': String(big.length) }, body: big };
    });
    const base = await clientUrl(emulator, 'oversized');
    expect(await refusedStatus(`${base}&tag=length`, JSON_V1)).toBe(500);
    expect(await refusedStatus(`${base}&tag=chunked`, JSON_V1)).toBe(500);
  });

  it('UpstreamConnectTests.ConnectRetriesReuseEventAndRecoverySkipsConnect', async () => {
    let attempts = 0;
    routes.set('retryconnect', (request) => {
      if (request.headers['ce-type'] !== CONNECT) return undefined;
      attempts++;
      return attempts === 1 ? { status: 503 } : { status: 204 };
    });
    const { socket, id, url, token } = await jsonClient('retryconnect', {}, RELIABLE);
    const connects = eventsOf(id, CONNECT);
    expect(connects).toHaveLength(2);
    const [first, second] = connects as [RecordedRequest, RecordedRequest];
    expect(header(second, 'ce-id')).toBe(header(first, 'ce-id'));
    expect(header(second, 'x-ms-client-request-id')).toBe(header(first, 'x-ms-client-request-id'));
    expect(second.body.equals(first.body)).toBe(true);
    socket.ws.terminate();
    await socket.closed;
    const recovered = await open(
      `${url}&awps_connection_id=${id}&awps_reconnection_token=${encodeURIComponent(token as string)}`,
      RELIABLE,
    );
    expect(await recovered.nextJson()).toMatchObject({ event: 'connected', connectionId: id });
    await recovered.close();
    await waitForEvent(DISCONNECTED, id);
    expect(eventsOf(id, CONNECT)).toHaveLength(2);
    expect(eventsOf(id, CONNECTED)).toHaveLength(1);
  });

  it('UpstreamConnectTests.FailedValidationDoesNotSendConnect', async () => {
    routes.set('badvalidation', (request) => (request.method === 'OPTIONS' ? { status: 200 } : undefined));
    expect(await refusedStatus(await clientUrl(emulator, 'badvalidation'), JSON_V1)).toBe(500);
    expect(webhook.requests.filter((r) => hubOf(r) === 'badvalidation' && r.method === 'POST')).toEqual([]);
    expect(
      webhook.requests.filter((r) => hubOf(r) === 'badvalidation' && r.method === 'OPTIONS').length,
    ).toBeGreaterThan(0);
  });
});

describe('UpstreamNotificationTests', () => {
  it('UpstreamNotificationTests.LifecycleUsesCloudEventsAndNotifiesOnlyOnce', async () => {
    const { socket, id } = await jsonClient('lifecycle', { userId: 'life' });
    const [connected] = await waitForEvent(CONNECTED, id);
    const request = connected as RecordedRequest;
    expect(request.url).toBe('/lifecycle/connected');
    expect(request.body.toString()).toBe('{}');
    expect(header(request, 'content-type')).toBe('application/json; charset=utf-8');
    expect({
      origin: header(request, 'webhook-request-origin'),
      specversion: header(request, 'ce-specversion'),
      awpsversion: header(request, 'ce-awpsversion'),
      source: header(request, 'ce-source'),
      hub: header(request, 'ce-hub'),
      eventName: header(request, 'ce-eventname'),
      userId: header(request, 'ce-userid'),
    }).toEqual({
      origin: 'localhost',
      specversion: '1.0',
      awpsversion: '1.0',
      source: `/hubs/lifecycle/client/${id}`,
      hub: 'lifecycle',
      eventName: 'connected',
      userId: 'life',
    });
    expect(header(request, 'ce-time')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(header(request, 'x-ms-client-request-id')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(header(request, 'ce-signature')).toBe(signature(id));
    socket.ws.close(1000, 'client says bye');
    const [disconnected] = await waitForEvent(DISCONNECTED, id);
    expect(json(disconnected as RecordedRequest)).toEqual({ reason: 'client says bye' });
    const ids = eventsOf(id).map((r) => header(r, 'x-ms-client-request-id'));
    expect(new Set(ids).size).toBe(ids.length);

    const closed = await jsonClient('lifecycle');
    await serviceClient(emulator, 'lifecycle').closeConnection(closed.id, { reason: 'server side' });
    const [serverClose] = await waitForEvent(DISCONNECTED, closed.id);
    expect(json(serverClose as RecordedRequest).reason).toBe(
      'Application server closed the connection. Reason: server side',
    );

    const broken = await jsonClient('lifecycle');
    broken.socket.ws.send('not json');
    const [protocolError] = await waitForEvent(DISCONNECTED, broken.id);
    expect(json(protocolError as RecordedRequest).reason).toMatch(/not a valid JSON protocol message/);

    // Exactly one disconnected each, also after more traffic.
    const later = await jsonClient('lifecycle');
    await later.socket.close();
    await waitForEvent(DISCONNECTED, later.id);
    for (const each of [id, closed.id, broken.id]) expect(eventsOf(each, DISCONNECTED)).toHaveLength(1);
  });

  it('UpstreamNotificationTests.RealHttpCookiesAreConnectionScopedAndRoutingIsExact', async () => {
    routes.set('cookies', (request) =>
      request.headers['ce-type'] === CONNECT
        ? {
            status: 204,
            headers: { 'Set-Cookie': [`session=${header(request, 'ce-connectionid') as string}; HttpOnly`] },
          }
        : undefined,
    );
    const a = await jsonClient('COOKIES');
    const b = await jsonClient('cookies');
    for (const client of [a, b]) {
      client.socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: '' });
      expect(await client.socket.nextJson()).toMatchObject({ ackId: 1, success: true });
      const [event] = await waitForEvent('azure.webpubsub.user.e', client.id);
      expect(header(event as RecordedRequest, 'cookie')).toBe(`session=${client.id}`);
      expect((event as RecordedRequest).url).toBe('/cookies/e');
    }
    // A hub with an empty handler list sends nothing at all.
    const quiet = await jsonClient('nohandler');
    await quiet.socket.close();
    expect(webhook.requests.filter((r) => header(r, 'ce-hub') === 'nohandler')).toEqual([]);
  });

  it('UpstreamNotificationTests.ReliableDetachNotifiesOnlyOnFinalRemoval', async () => {
    const recovering = await jsonClient('detach', {}, RELIABLE);
    recovering.socket.ws.terminate();
    await recovering.socket.closed;
    const again = await open(
      `${recovering.url}&awps_connection_id=${recovering.id}&awps_reconnection_token=${encodeURIComponent(recovering.token as string)}`,
      RELIABLE,
    );
    await again.nextJson();
    await again.close();
    const [finalClose] = await waitForEvent(DISCONNECTED, recovering.id);
    expect(json(finalClose as RecordedRequest).reason).toBe('');

    const abandoned = await jsonClient('detach', {}, RELIABLE);
    abandoned.socket.ws.terminate();
    const [expired] = await waitForEvent(DISCONNECTED, abandoned.id);
    expect(json(expired as RecordedRequest)).toEqual({ reason: 'The connection recovery timeout expired.' });
    const marker = await jsonClient('detach');
    await marker.socket.close();
    await waitForEvent(DISCONNECTED, marker.id);
    expect(eventsOf(recovering.id, DISCONNECTED)).toHaveLength(1);
    expect(eventsOf(abandoned.id, DISCONNECTED)).toHaveLength(1);
  });
});

describe('UpstreamUserEventTests', () => {
  it('UpstreamUserEventTests.RawEventsReuseHandlerAndReturnUnwrappedFrames', async () => {
    routes.set('rawevents', (request) => {
      if (request.headers['ce-type'] === CONNECT)
        return { status: 204, headers: { 'ce-connectionState': 'raw-state' } };
      if (request.headers['ce-type'] !== 'azure.webpubsub.user.message') return undefined;
      const text = request.body.toString();
      const type =
        text === 'json'
          ? 'application/json'
          : text === 'text'
            ? 'text/plain; charset=utf-8'
            : 'application/octet-stream';
      return {
        status: 200,
        headers: { 'Content-Type': type },
        body: text === 'json' ? '{"a":1}' : `reply:${text}`,
      };
    });
    const socket = await open(`${await clientUrl(emulator, 'rawevents')}&tag=raw1`);
    const id = await connectionIdOf('raw1');
    socket.ws.send('text');
    expect(await socket.next()).toEqual({ data: Buffer.from('reply:text'), isBinary: false });
    socket.ws.send('json');
    expect(await socket.next()).toEqual({ data: Buffer.from('{"a":1}'), isBinary: false });
    socket.ws.send(Buffer.from([1, 2]));
    expect(await socket.next()).toEqual({
      data: Buffer.concat([Buffer.from('reply:'), Buffer.from([1, 2])]),
      isBinary: true,
    });
    const events = eventsOf(id, 'azure.webpubsub.user.message');
    expect(events.map((r) => header(r, 'content-type'))).toEqual([
      'text/plain; charset=utf-8',
      'text/plain; charset=utf-8',
      'application/octet-stream',
    ]);
    expect(events.map((r) => header(r, 'ce-id'))).toEqual(['2', '3', '4']);
    expect(events.map((r) => header(r, 'ce-connectionstate'))).toEqual([
      'raw-state',
      'raw-state',
      'raw-state',
    ]);
    expect(events[2]?.body.equals(Buffer.from([1, 2]))).toBe(true);
    expect(events.every((r) => r.url === '/rawevents/message')).toBe(true);
  });

  it('UpstreamUserEventTests.RawEventFailureClosesWithoutExposingHandlerDetails', async () => {
    routes.set('rawfail', (request) =>
      request.headers['ce-type'] === 'azure.webpubsub.user.message'
        ? { status: 400, body: 'secret handler detail' }
        : undefined,
    );
    const socket = await open(`${await clientUrl(emulator, 'rawfail')}&tag=rawfail`);
    const id = await connectionIdOf('rawfail');
    socket.ws.send('boom');
    expect(await socket.closed).toEqual({ code: 1011, reason: 'Internal server error' });
    const [disconnected] = await waitForEvent(DISCONNECTED, id);
    expect(json(disconnected as RecordedRequest).reason).toMatch(/answered 400/);
    const noHandler = await open(await clientUrl(emulator, 'nohandler'));
    noHandler.ws.send('nobody listens');
    expect((await noHandler.closed).code).toBe(1011);
  });

  it('UpstreamUserEventTests.RawDisconnectCancelsPendingHandler', async () => {
    const never = deferred<WebhookReply>();
    routes.set('rawcancel', (request) =>
      request.headers['ce-type'] === 'azure.webpubsub.user.message' ? never.promise : undefined,
    );
    const socket = await open(await clientUrl(emulator, 'rawcancel'));
    socket.ws.send('hold on');
    const [pending] = await webhook.waitFor(
      (r) => hubOf(r) === 'rawcancel' && r.headers['ce-type'] === 'azure.webpubsub.user.message',
    );
    socket.ws.terminate();
    await (pending as RecordedRequest).aborted;
    never.resolve({ status: 204 });
  });

  it('UpstreamUserEventTests.RoutesUserEventsSeparatelyFromSystemEvents', async () => {
    const { socket, id } = await jsonClient('routing');
    for (const [ackId, event] of ['a', 'b', 'c', 'CONNECTED'].entries()) {
      socket.sendJson({ type: 'event', event, ackId, dataType: 'text', data: '' });
      expect(await socket.nextJson()).toMatchObject({ ackId, success: true });
    }
    await socket.close();
    await waitForEvent(DISCONNECTED, id);
    const paths = eventsOf(id).map((r) => r.url);
    expect(paths).toEqual([
      '/routing/A/connected',
      '/routing/A/a',
      '/routing/A/b',
      '/routing/B/c',
      '/routing/B/CONNECTED',
      '/routing/B/disconnected',
    ]);
  });

  it('UpstreamUserEventTests.ResponseBodyAndMetadataPrecedeAck (Content-Type to dataType; metadata is not emulated)', async () => {
    const replies: Record<string, WebhookReply> = {
      text: { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'héllo' },
      json: { status: 200, headers: { 'Content-Type': 'application/json' }, body: '[1,{"b":null}]' },
      binary: {
        status: 200,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: Buffer.from([0, 1]),
      },
      untyped: { status: 200, body: Buffer.from([2, 3]) },
      empty: { status: 200, headers: { 'Content-Type': 'text/plain' } },
    };
    routes.set('replies', (request) => replies[request.url.split('/')[2] ?? '']);
    const { socket } = await jsonClient('replies');
    const expected: [string, Record<string, unknown> | undefined][] = [
      ['text', { dataType: 'text', data: 'héllo' }],
      ['json', { dataType: 'json', data: [1, { b: null }] }],
      ['binary', { dataType: 'binary', data: 'AAE=' }],
      ['untyped', { dataType: 'binary', data: 'AgM=' }],
      ['empty', undefined],
    ];
    for (const [ackId, [event, message]] of expected.entries()) {
      socket.sendJson({ type: 'event', event, ackId, dataType: 'text', data: '' });
      if (message !== undefined)
        expect(await socket.nextJson()).toEqual({ type: 'message', from: 'server', ...message });
      expect(await socket.nextJson()).toEqual({ type: 'ack', ackId, success: true });
    }
  });

  it('UpstreamUserEventTests.RequestCarriesTypedBytesAndMetadata (typed bytes; metadata is not emulated)', async () => {
    const { socket, id } = await jsonClient('typed');
    socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: 'tëxt' });
    socket.sendJson({ type: 'event', event: 'e', ackId: 2, dataType: 'json', data: { k: ['v'] } });
    socket.sendJson({ type: 'event', event: 'e', ackId: 3, dataType: 'binary', data: 'AP8=' });
    socket.sendJson({ type: 'event', event: 'e', ackId: 4, data: 42 });
    for (let ackId = 1; ackId <= 4; ackId++)
      expect(await socket.nextJson()).toMatchObject({ ackId, success: true });
    const events = eventsOf(id, 'azure.webpubsub.user.e');
    expect(events.map((r) => [header(r, 'content-type'), r.body.toString('hex')])).toEqual([
      ['text/plain; charset=utf-8', Buffer.from('tëxt').toString('hex')],
      ['application/json; charset=utf-8', Buffer.from('{"k":["v"]}').toString('hex')],
      ['application/octet-stream', '00ff'],
      ['application/json; charset=utf-8', Buffer.from('42').toString('hex')],
    ]);
    expect(header(events[0] as RecordedRequest, 'ce-id')).toBe('2');
    expect(events.every((r) => header(r, 'authorization') === undefined)).toBe(true);
  });

  it('UpstreamUserEventTests.RetryReusesIdentityAndSuccessfulStatePersistsWithoutDuplicateDispatch', async () => {
    let calls = 0;
    routes.set('retryevent', (request) => {
      if (request.headers['ce-type'] === CONNECT)
        return { status: 204, headers: { 'ce-connectionState': 'initial' } };
      if (request.headers['ce-type'] !== 'azure.webpubsub.user.e') return undefined;
      calls++;
      if (calls === 1) return { status: 503 };
      return { status: 204, headers: { 'ce-connectionState': '', 'Set-Cookie': 'n=1' } };
    });
    const { socket, id } = await jsonClient('retryevent');
    socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: 'once' });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    const [first, second] = eventsOf(id, 'azure.webpubsub.user.e') as [RecordedRequest, RecordedRequest];
    expect(header(second, 'ce-id')).toBe(header(first, 'ce-id'));
    expect(header(second, 'x-ms-client-request-id')).toBe(header(first, 'x-ms-client-request-id'));
    expect(header(second, 'ce-signature')).toBe(header(first, 'ce-signature'));
    expect(second.body.toString()).toBe('once');
    socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: 'once' });
    expect(await socket.nextJson()).toMatchObject({ ackId: 1, error: { name: 'Duplicate' } });
    socket.sendJson({ type: 'event', event: 'e', ackId: 2, dataType: 'text', data: 'twice' });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 2, success: true });
    const third = eventsOf(id, 'azure.webpubsub.user.e')[2] as RecordedRequest;
    expect(eventsOf(id, 'azure.webpubsub.user.e')).toHaveLength(3);
    // The empty state the handler set is kept (and an empty state is not sent); the cookie is kept.
    expect(header(third, 'ce-connectionstate')).toBeUndefined();
    expect(header(third, 'cookie')).toBe('n=1');
  });

  it('UpstreamUserEventTests.FailureDoesNotUpdateStateOrCacheAck', async () => {
    const failures: WebhookReply[] = [
      { status: 400, headers: { 'ce-connectionState': 'bad' } },
      { status: 429, headers: { 'ce-connectionState': 'bad' } },
      { status: 200, headers: { 'Content-Type': 'text/html', 'ce-connectionState': 'bad' }, body: '<p>' },
    ];
    let call = 0;
    routes.set('failstate', (request) => {
      if (request.headers['ce-type'] === CONNECT)
        return { status: 204, headers: { 'ce-connectionState': 'good' } };
      if (request.headers['ce-type'] !== 'azure.webpubsub.user.e') return undefined;
      return failures[call++] ?? { status: 204 };
    });
    const { socket, id } = await jsonClient('failstate');
    for (const _failure of failures) {
      socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: '' });
      expect(await socket.nextJson()).toEqual({
        type: 'ack',
        ackId: 1,
        success: false,
        error: { name: 'InternalServerError', message: 'Internal server error' },
      });
    }
    // The same ackId is retried and succeeds; every attempt reached the handler with the old state.
    socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: '' });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    const events = eventsOf(id, 'azure.webpubsub.user.e');
    expect(events.map((r) => header(r, 'ce-connectionstate'))).toEqual(['good', 'good', 'good', 'good']);
  });

  it('UpstreamUserEventTests.OversizedResponseFailsWithOrWithoutContentLength', async () => {
    const big = 'x'.repeat(2000);
    routes.set('bigreply', (request) => {
      if (request.headers['ce-type'] === 'azure.webpubsub.user.length')
        return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: big };
      if (request.headers['ce-type'] === 'azure.webpubsub.user.chunked') {
        return {
          status: 200,
          headers: { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' },
          body: big,
        };
      }
      return undefined;
    });
    const { socket } = await jsonClient('bigreply');
    for (const [ackId, event] of ['length', 'chunked'].entries()) {
      socket.sendJson({ type: 'event', event, ackId, dataType: 'text', data: '' });
      expect(await socket.nextJson()).toMatchObject({
        ackId,
        success: false,
        error: { name: 'InternalServerError' },
      });
    }
  });

  it('UpstreamUserEventTests.FirstMatchingHandlerWinsWithoutDefaultHubFallback', async () => {
    const { socket, id } = await jsonClient('routing');
    socket.sendJson({ type: 'event', event: 'B', ackId: 1, dataType: 'text', data: '' });
    expect(await socket.nextJson()).toMatchObject({ ackId: 1, success: true });
    expect(eventsOf(id, 'azure.webpubsub.user.B').map((r) => r.url)).toEqual(['/routing/A/B']);
    // The connect event is configured on neither handler of this hub: no connect was sent at all.
    expect(eventsOf(id, CONNECT)).toEqual([]);
    const other = await jsonClient('nohandler');
    other.socket.sendJson({ type: 'event', event: 'B', ackId: 1, dataType: 'text', data: '' });
    expect(await other.socket.nextJson()).toMatchObject({ ackId: 1, success: false });
  });

  it('UpstreamUserEventTests.ValidationFailureNeverDispatchesUserEvent', async () => {
    const failing = await startEmulator({
      hubs: {
        chat: {
          eventHandlers: [{ urlTemplate: `${webhook.url}/novalidation/{event}`, userEventPattern: '*' }],
        },
      },
      retryDelaysMs: [],
    });
    try {
      routes.set('novalidation', (request) =>
        request.method === 'OPTIONS' ? { status: 403 } : { status: 204 },
      );
      const socket = await open(await clientUrl(failing, 'chat'), JSON_V1);
      await socket.nextJson();
      socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: '' });
      expect(await socket.nextJson()).toMatchObject({
        ackId: 1,
        success: false,
        error: { name: 'InternalServerError' },
      });
      expect(webhook.requests.filter((r) => hubOf(r) === 'novalidation' && r.method === 'POST')).toEqual([]);
    } finally {
      await failing.close();
    }
  });

  it('UpstreamUserEventTests.ReliableResponseWithoutAckIsReplayedAfterRecovery', async () => {
    const answer = deferred<WebhookReply>();
    routes.set('replay', (request) =>
      request.headers['ce-type'] === 'azure.webpubsub.user.slow' ? answer.promise : undefined,
    );
    const { socket, id, url, token } = await jsonClient('replay', {}, RELIABLE);
    socket.sendJson({ type: 'event', event: 'slow', ackId: 1, dataType: 'text', data: '' });
    await waitForEvent('azure.webpubsub.user.slow', id);
    socket.ws.terminate();
    await socket.closed;
    answer.resolve({ status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'late reply' });
    const recovered = await open(
      `${url}&awps_connection_id=${id}&awps_reconnection_token=${encodeURIComponent(token as string)}`,
      RELIABLE,
    );
    expect(await recovered.nextJson()).toMatchObject({ event: 'connected' });
    expect(await recovered.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'text',
      data: 'late reply',
      sequenceId: 1,
    });
    expect(eventsOf(id, 'azure.webpubsub.user.slow')).toHaveLength(1);
  });
});

describe('HttpUpstreamTriggerTests', () => {
  it('HttpUpstreamTriggerTests.ValidationGatesPostsAndCachesOutcome', async () => {
    const answers: Record<string, WebhookReply> = {
      star: { status: 200, headers: { 'WebHook-Allowed-Origin': '*' } },
      match: { status: 202, headers: { 'WebHook-Allowed-Origin': 'LOCALHOST' } },
      fallback: { status: 404 },
      refused: { status: 405, headers: { 'WebHook-Allowed-Origin': '*' } },
      missing: { status: 200 },
      other: { status: 200, headers: { 'WebHook-Allowed-Origin': 'evil.example.com' } },
      list: { status: 200, headers: { 'WebHook-Allowed-Origin': 'localhost, evil.example.com' } },
    };
    for (const hub of Object.keys(answers)) {
      routes.set(`v${hub}`, (request) => {
        if (request.method === 'OPTIONS') return answers[hub];
        if (request.method === 'GET') return { status: 200, headers: { 'WebHook-Allowed-Origin': '*' } };
        return undefined;
      });
    }
    const outcomes: Record<string, number | 'open'> = {};
    for (const hub of Object.keys(answers)) {
      const url = await clientUrl(emulator, `v${hub}`);
      try {
        const socket = await open(url, JSON_V1);
        await socket.nextJson();
        outcomes[hub] = 'open';
      } catch (error) {
        outcomes[hub] = (error as { status: number }).status;
      }
    }
    expect(outcomes).toEqual({
      star: 'open',
      match: 'open',
      fallback: 'open',
      refused: 500,
      missing: 500,
      other: 500,
      list: 500,
    });
    const validation = webhook.requests.find((r) => r.url === '/vstar/validate') as RecordedRequest;
    expect(validation.method).toBe('OPTIONS');
    expect(header(validation, 'webhook-request-origin')).toBe('localhost');
    expect(header(validation, 'ce-awpsversion')).toBe('1.0');
    for (const name of ['ce-signature', 'authorization', 'cookie'])
      expect(header(validation, name)).toBeUndefined();
    expect(webhook.requests.filter((r) => r.url === '/vfallback/validate').map((r) => r.method)).toEqual([
      'OPTIONS',
      'GET',
    ]);
    // Cached: a second connection to a validated hub does not validate again.
    const again = await open(await clientUrl(emulator, 'vstar'), JSON_V1);
    await again.nextJson();
    expect(webhook.requests.filter((r) => r.url === '/vstar/validate')).toHaveLength(1);
  });

  it('HttpUpstreamTriggerTests.ValidationUsesRetryPolicyAndCachesByResolvedUri', async () => {
    let options = 0;
    routes.set('vretry', (request) => {
      if (request.method !== 'OPTIONS') return undefined;
      options++;
      return options === 1 ? { status: 503 } : { status: 200, headers: { 'WebHook-Allowed-Origin': '*' } };
    });
    const socket = await open(await clientUrl(emulator, 'vretry'), JSON_V1);
    await socket.nextJson();
    expect(webhook.requests.filter((r) => r.url === '/vretry/validate')).toHaveLength(2);
    // {hub} resolves to another URL for another hub: validated on its own.
    const other = await open(await clientUrl(emulator, 'vretry2'), JSON_V1);
    await other.nextJson();
    expect(webhook.requests.filter((r) => r.url === '/vretry2/validate')).toHaveLength(1);
  });

  it('HttpUpstreamTriggerTests.FirstValidationIsSharedAndBlocksConcurrentPosts', async () => {
    const release = deferred<WebhookReply>();
    routes.set('vshared', (request) => (request.method === 'OPTIONS' ? release.promise : undefined));
    const url = await clientUrl(emulator, 'vshared');
    const opening = Array.from({ length: 8 }, () => open(url, JSON_V1));
    await webhook.waitFor((r) => r.url === '/vshared/validate');
    expect(webhook.requests.filter((r) => hubOf(r) === 'vshared' && r.method === 'POST')).toEqual([]);
    release.resolve({ status: 200, headers: { 'WebHook-Allowed-Origin': '*' } });
    await Promise.all(opening);
    expect(webhook.requests.filter((r) => r.url === '/vshared/validate')).toHaveLength(1);
    expect(
      webhook.requests.filter((r) => hubOf(r) === 'vshared' && r.headers['ce-type'] === CONNECT),
    ).toHaveLength(8);
  });

  it('HttpUpstreamTriggerTests.RetryStatusCodesMatchRuntime', async () => {
    const statuses = [408, 503, 599, 400, 401, 404, 429];
    const attempts = new Map<number, number>();
    routes.set('retrycodes', (request) => {
      if (request.headers['ce-type'] !== CONNECT) return undefined;
      const status = Number((json(request).query as Record<string, string[]>).status?.[0]);
      attempts.set(status, (attempts.get(status) ?? 0) + 1);
      return { status };
    });
    const base = await clientUrl(emulator, 'retrycodes');
    for (const status of statuses) await refusedStatus(`${base}&status=${status}`, JSON_V1);
    expect(Object.fromEntries(attempts)).toEqual({ 408: 4, 503: 4, 599: 4, 400: 1, 401: 1, 404: 1, 429: 1 });
  });

  it('HttpUpstreamTriggerTests.RetryExhaustionUsesOneThreeFiveSecondsAndReplaysRequest (delays configured to 20/60/100 ms here)', async () => {
    expect(resolveConfig({}).retryDelaysMs).toEqual([1000, 3000, 5000]);
    const times: number[] = [];
    routes.set('exhaust', (request) => {
      if (request.headers['ce-type'] !== CONNECT) return undefined;
      times.push(performance.now());
      return { status: 500 };
    });
    expect(await refusedStatus(await clientUrl(emulator, 'exhaust'), JSON_V1)).toBe(500);
    const attempts = webhook.events(CONNECT).filter((r) => hubOf(r) === 'exhaust');
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((r) => header(r, 'x-ms-client-request-id'))).size).toBe(1);
    expect(new Set(attempts.map((r) => r.body.toString())).size).toBe(1);
    const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
    [20, 60, 100].forEach((delay, i) => expect(gaps[i]).toBeGreaterThanOrEqual(delay - 2));
  });
});

describe('UpstreamConnectionContextTests and UpstreamEventIntegrationTests', () => {
  it('UpstreamConnectionContextTests: userId precedence is sub, then NameIdentifier, and an empty sub wins', async () => {
    const aud = `http://localhost:${emulator.port}/client/hubs/context`;
    const nameIdentifier = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier';
    const cases: [Record<string, unknown>, string | undefined][] = [
      [{ aud, sub: 'subject', [nameIdentifier]: 'named' }, 'subject'],
      [{ aud, [nameIdentifier]: 'named' }, 'named'],
      [{ aud, sub: '', [nameIdentifier]: 'named' }, ''],
      [{ aud }, undefined],
    ];
    for (const [claims, userId] of cases) {
      const socket = await open(
        `ws://localhost:${emulator.port}/client/hubs/context?access_token=${await signToken(claims)}`,
        JSON_V1,
      );
      const connected = await socket.nextJson();
      expect(connected.userId).toBe(userId ?? null);
      const [connect] = eventsOf(connected.connectionId as string, CONNECT);
      expect(header(connect as RecordedRequest, 'ce-userid')).toBe(userId);
    }
  });

  it('UpstreamConnectionContextTests: the signature is per connection and covers both access keys', async () => {
    const a = await jsonClient('context');
    const b = await jsonClient('context');
    const [ca] = await waitForEvent(CONNECTED, a.id);
    const [cb] = await waitForEvent(CONNECTED, b.id);
    expect(header(ca as RecordedRequest, 'ce-signature')).toBe(signature(a.id));
    expect(header(cb as RecordedRequest, 'ce-signature')).toBe(signature(b.id));
    expect(signature(a.id)).not.toBe(signature(b.id));
  });

  it('UpstreamEventIntegrationTests: state is sent on the following event and a repeated state header keeps its last value', async () => {
    routes.set('state', (request) => {
      if (request.headers['ce-type'] === 'azure.webpubsub.user.set') {
        return { status: 204, headers: { 'ce-connectionState': ['first', 'last'] } };
      }
      return undefined;
    });
    const { socket, id } = await jsonClient('state');
    socket.sendJson({ type: 'event', event: 'set', ackId: 1, dataType: 'text', data: '' });
    socket.sendJson({ type: 'event', event: 'read', ackId: 2, dataType: 'text', data: '' });
    await socket.nextJson();
    await socket.nextJson();
    const [read] = eventsOf(id, 'azure.webpubsub.user.read');
    expect(header(read as RecordedRequest, 'ce-connectionstate')).toBe('last');
  });

  it('UpstreamEventIntegrationTests: a 500 from the handler closes a simple client with 1011 and says so in disconnected', async () => {
    routes.set('raw500', (request) =>
      request.headers['ce-type'] === 'azure.webpubsub.user.message' ? { status: 500 } : undefined,
    );
    const socket = await open(`${await clientUrl(emulator, 'raw500')}&tag=raw500`);
    const id = await connectionIdOf('raw500');
    socket.ws.send('x');
    expect((await socket.closed).code).toBe(1011);
    const [disconnected] = await waitForEvent(DISCONNECTED, id);
    expect(json(disconnected as RecordedRequest).reason).toMatch(/answered 500/);
    // 500 is retried like every 5xx: four attempts before giving up.
    expect(eventsOf(id, 'azure.webpubsub.user.message')).toHaveLength(4);
  });

  it('UpstreamEventIntegrationTests: a slow connected handler does not block the client', async () => {
    const hold = deferred<WebhookReply>();
    routes.set('slowconnected', (request) =>
      request.headers['ce-type'] === CONNECTED ? hold.promise : undefined,
    );
    const { socket } = await jsonClient('slowconnected', { roles: ['webpubsub.joinLeaveGroup'] });
    socket.sendJson({ type: 'joinGroup', group: 'g', ackId: 1 });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    socket.sendJson({ type: 'event', event: 'e', ackId: 2, dataType: 'text', data: '' });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 2, success: true });
    hold.resolve({ status: 204 });
  });
});
