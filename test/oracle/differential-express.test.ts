/**
 * Differential test: one corpus of valid requests, answered over real HTTP by @azure/web-pubsub-express
 * (the official handler, used here only as an oracle) and by our webhook, with hooks that make the same
 * decisions on both sides. Responses and what each side's hooks saw must be equivalent; where we differ on
 * purpose the case says so and why.
 */
import { WebPubSubEventHandler } from '@azure/web-pubsub-express';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signatureAuthenticator } from '../../src/events/authentication';
import { rejectConnect, type WebhookHooks } from '../../src/events/hooks';
import { createWebhook } from '../../src/events/webhook';
import { fromIncomingMessage, writeCoreResponse } from '../../src/http/node-adapter';
import { silentLogger } from '../../src/http/types';
import { createOriginPolicy } from '../../src/protocol/origins';
import { ACCESS_KEY, connectBody, eventHeaders, ORIGIN, type EventKind } from '../support/cloud-events';

/** What a hook saw, in a shape both libraries can be reduced to. */
interface Observation {
  hook: string;
  userId?: string;
  hub?: string;
  connectionId?: string;
  eventName?: string;
  origin?: string;
  states?: unknown;
  claims?: unknown;
  query?: unknown;
  headers?: unknown;
  subprotocols?: unknown;
  clientCertificates?: unknown;
  dataType?: string;
  data?: unknown;
  reason?: unknown;
}

/** One decision, expressed for both libraries' hook styles. */
interface Behaviour {
  connect?: {
    setState?: Record<string, unknown>;
    result?: Record<string, unknown>;
    reject?: [400 | 401 | 403, string];
  };
  user?: { setState?: Record<string, unknown>; reply?: 'echo' | 'none' };
}

let behaviour: Behaviour = {};
let observed: { ours: Observation[]; theirs: Observation[] } = { ours: [], theirs: [] };
let notified: { ours: Promise<void>; theirs: Promise<void> };
let release: { ours: () => void; theirs: () => void };

function expectNotification(): void {
  let ours!: () => void;
  let theirs!: () => void;
  notified = {
    ours: new Promise((resolve) => (ours = resolve)),
    theirs: new Promise((resolve) => (theirs = resolve)),
  };
  release = { ours, theirs };
}

function toBytes(data: unknown): unknown {
  return data instanceof Uint8Array ? Buffer.from(data).toString('base64') : data;
}

const ourHooks: WebhookHooks = {
  connect(event) {
    const { context } = event;
    observed.ours.push({
      hook: 'connect',
      userId: context.userId,
      hub: context.hub,
      connectionId: context.connectionId,
      eventName: context.eventName,
      origin: context.origin,
      states: structuredClone(context.state.toJSON()),
      claims: { ...event.claims },
      query: { ...event.query },
      headers: { ...event.headers },
      subprotocols: event.subprotocols,
      clientCertificates: event.clientCertificates,
    });
    const decision = behaviour.connect ?? {};
    for (const [key, value] of Object.entries(decision.setState ?? {}))
      context.state.set(key, value as never);
    if (decision.reject) return rejectConnect(...decision.reject);
    return decision.result;
  },
  userEvent(event) {
    const { context } = event;
    observed.ours.push({
      hook: 'user',
      userId: context.userId,
      hub: context.hub,
      connectionId: context.connectionId,
      eventName: context.eventName,
      states: structuredClone(context.state.toJSON()),
      dataType: event.dataType,
      data: toBytes(event.data),
    });
    const decision = behaviour.user ?? {};
    for (const [key, value] of Object.entries(decision.setState ?? {}))
      context.state.set(key, value as never);
    return decision.reply === 'echo' ? ({ dataType: event.dataType, data: event.data } as never) : undefined;
  },
  connected(context) {
    observed.ours.push({
      hook: 'connected',
      userId: context.userId,
      connectionId: context.connectionId,
      states: structuredClone(context.state.toJSON()),
    });
    release.ours();
  },
  disconnected(context, reason) {
    observed.ours.push({
      hook: 'disconnected',
      userId: context.userId,
      connectionId: context.connectionId,
      reason,
      states: structuredClone(context.state.toJSON()),
    });
    release.ours();
  },
};

const theirHandler = new WebPubSubEventHandler('chat', {
  path: '/api/webpubsub/events',
  allowedEndpoints: [`https://${ORIGIN}`],
  handleConnect(req, res) {
    const ctx = req.context;
    observed.theirs.push({
      hook: 'connect',
      userId: ctx.userId,
      hub: ctx.hub,
      connectionId: ctx.connectionId,
      eventName: ctx.eventName,
      origin: ctx.origin,
      states: structuredClone(ctx.states),
      claims: req.claims,
      query: req.queries,
      headers: req.headers,
      subprotocols: req.subprotocols,
      clientCertificates: req.clientCertificates,
    });
    const decision = behaviour.connect ?? {};
    for (const [key, value] of Object.entries(decision.setState ?? {})) res.setState(key, value);
    if (decision.reject) {
      res.fail(decision.reject[0] as 400 | 401, decision.reject[1]);
      return;
    }
    res.success(decision.result);
  },
  handleUserEvent(req, res) {
    const ctx = req.context;
    observed.theirs.push({
      hook: 'user',
      userId: ctx.userId,
      hub: ctx.hub,
      connectionId: ctx.connectionId,
      eventName: ctx.eventName,
      states: structuredClone(ctx.states),
      dataType: req.dataType,
      data: toBytes(req.data),
    });
    const decision = behaviour.user ?? {};
    for (const [key, value] of Object.entries(decision.setState ?? {})) res.setState(key, value);
    // Their success() takes the reply already serialised: a JSON value goes back as its text.
    const reply = req.dataType === 'json' ? JSON.stringify(req.data) : req.data;
    if (decision.reply === 'echo') res.success(reply, req.dataType);
    else res.success();
  },
  onConnected(req) {
    observed.theirs.push({
      hook: 'connected',
      userId: req.context.userId,
      connectionId: req.context.connectionId,
      states: structuredClone(req.context.states),
    });
    release.theirs();
  },
  onDisconnected(req) {
    observed.theirs.push({
      hook: 'disconnected',
      userId: req.context.userId,
      connectionId: req.context.connectionId,
      reason: req.reason,
      states: structuredClone(req.context.states),
    });
    release.theirs();
  },
});

const ourWebhook = createWebhook({
  hubs: ['chat'],
  origins: createOriginPolicy([`https://${ORIGIN}`]),
  authenticators: [signatureAuthenticator([ACCESS_KEY])],
  hooks: ourHooks,
  maxBodyBytes: 1 << 20,
  maxStateBytes: 4096,
});

const FELL_THROUGH = 599; // express calls next() for requests it does not consider its own

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let ours: { server: Server; url: string };
let theirs: { server: Server; url: string };

beforeAll(async () => {
  ours = await listen((req, res) => {
    void ourWebhook(fromIncomingMessage(req, 'http://127.0.0.1'), silentLogger).then((response) =>
      writeCoreResponse(res, response),
    );
  });
  const middleware = theirHandler.getMiddleware();
  theirs = await listen((req, res) => {
    // The middleware reads Express's baseUrl and path; plain node:http has neither.
    Object.assign(req, { baseUrl: '', path: new URL(req.url ?? '/', 'http://x').pathname });
    void middleware(req, res, () => {
      res.statusCode = FELL_THROUGH;
      res.end();
    });
  });
});

afterAll(async () => {
  await Promise.all([ours, theirs].map(({ server }) => new Promise((resolve) => server.close(resolve))));
});

beforeEach(() => {
  observed = { ours: [], theirs: [] };
  behaviour = {};
});

interface Answer {
  status: number;
  mediaType: string | undefined;
  body: Buffer;
  state: unknown;
  allowedOrigin: string | null;
}

async function send(
  base: string,
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Answer> {
  const response = await fetch(`${base}/api/webpubsub/events`, { method, headers, body });
  const state = response.headers.get('ce-connectionstate');
  return {
    status: response.status,
    mediaType: response.headers.get('content-type')?.split(';')[0]?.trim(),
    body: Buffer.from(await response.arrayBuffer()),
    state: state === null ? undefined : JSON.parse(Buffer.from(state, 'base64').toString('utf8')),
    allowedOrigin: response.headers.get('webhook-allowed-origin'),
  };
}

async function both(
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<{ ours: Answer; theirs: Answer }> {
  const [o, t] = await Promise.all([
    send(ours.url, method, headers, body),
    send(theirs.url, method, headers, body),
  ]);
  expect(t.status).not.toBe(FELL_THROUGH); // the oracle accepted the request as a Web PubSub event
  return { ours: o, theirs: t };
}

const stateHeader = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');

function event(kind: EventKind, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  // The official handler only recognises requests that carry ce-awpsversion, as the service sends them.
  return eventHeaders(kind, overrides);
}

describe('our webhook against @azure/web-pubsub-express', () => {
  it('OPTIONS: both allow the configured origin (theirs lists its hosts; we echo the matching one)', async () => {
    const { ours: o, theirs: t } = await both('OPTIONS', {
      'webhook-request-origin': ORIGIN,
      'ce-awpsversion': '1.0',
    });
    expect(o.status).toBe(t.status);
    expect(o.allowedOrigin).toBe(t.allowedOrigin);
  });

  it('connect with no decision: 204 on both, same request seen by the hooks', async () => {
    const body = JSON.stringify(connectBody());
    const { ours: o, theirs: t } = await both('POST', event('connect'), body);
    expect(o.status).toBe(204);
    expect(t.status).toBe(204);
    expect(observed.ours).toEqual(observed.theirs);
  });

  it('connect with a result: the same JSON response', async () => {
    behaviour.connect = {
      result: {
        userId: 'alice',
        groups: ['room-1', 'room 2'],
        roles: ['webpubsub.sendToGroup.room-1'],
        subprotocol: 'json.webpubsub.azure.v1',
      },
    };
    const { ours: o, theirs: t } = await both('POST', event('connect'), JSON.stringify(connectBody()));
    expect(o.status).toBe(200);
    expect(o.status).toBe(t.status);
    expect(o.mediaType).toBe(t.mediaType);
    expect(JSON.parse(o.body.toString())).toEqual(JSON.parse(t.body.toString()));
  });

  it('connect that sets state, over existing state: the same merged ce-connectionState', async () => {
    behaviour.connect = { setState: { counter: 1, nested: { a: [1, 'b'] } } };
    const headers = event('connect', { 'ce-connectionstate': stateHeader({ kept: 'yes', counter: 0 }) });
    const { ours: o, theirs: t } = await both('POST', headers, JSON.stringify(connectBody()));
    expect(o.status).toBe(t.status);
    expect(o.state).toEqual({ kept: 'yes', counter: 1, nested: { a: [1, 'b'] } });
    expect(o.state).toEqual(t.state);
    expect(observed.ours[0]?.states).toEqual(observed.theirs[0]?.states);
  });

  it('connect rejected with 401: the same status (we answer problem+json, theirs plain text; the service forwards only the status)', async () => {
    behaviour.connect = { reject: [401, 'no token'] };
    const { ours: o, theirs: t } = await both('POST', event('connect'), JSON.stringify(connectBody()));
    expect(o.status).toBe(401);
    expect(t.status).toBe(401);
    expect(o.mediaType).toBe('application/problem+json');
  });

  it.each([
    [4, 400],
    [4, 401],
    [5, 400],
    [5, 401],
  ])('MQTT %i connect rejected with %i: the same CONNACK code body', async (protocolVersion, status) => {
    behaviour.connect = { reject: [status as 400 | 401, 'bad credentials'] };
    const headers = event('connect', { 'ce-subprotocol': 'mqtt', 'ce-physicalconnectionid': 'phys-1' });
    const body = JSON.stringify({
      ...connectBody({ subprotocols: ['mqtt'] }),
      mqtt: { protocolVersion, username: 'u' },
    });
    const { ours: o, theirs: t } = await both('POST', headers, body);
    expect(o.status).toBe(t.status);
    expect(JSON.parse(o.body.toString())).toEqual(JSON.parse(t.body.toString()));
  });

  it.each([
    ['text', 'text/plain; charset=utf-8', Buffer.from('héllo wörld')],
    ['json', 'application/json', Buffer.from('{"hello":["world",1,true,null]}')],
    ['binary', 'application/octet-stream', Buffer.from([0, 1, 2, 200, 255])],
  ])('user event with %s data, echoed: the same bytes and data type', async (_type, contentType, payload) => {
    behaviour.user = { reply: 'echo' };
    const { ours: o, theirs: t } = await both(
      'POST',
      event('user.echo', { 'content-type': contentType }),
      payload,
    );
    expect(o.status).toBe(200);
    expect(o.status).toBe(t.status);
    expect(o.mediaType).toBe(t.mediaType);
    if (_type === 'json') expect(JSON.parse(o.body.toString())).toEqual(JSON.parse(t.body.toString()));
    else expect(o.body).toEqual(t.body);
    expect(observed.ours).toEqual(observed.theirs);
  });

  it('user event that reads and sets state: the same state seen and the same state written', async () => {
    behaviour.user = { setState: { seen: 2 }, reply: 'echo' };
    const headers = event('user.message', { 'ce-connectionstate': stateHeader({ seen: 1, name: 'n' }) });
    const { ours: o, theirs: t } = await both('POST', headers, 'hi');
    expect(o.state).toEqual({ seen: 2, name: 'n' });
    expect(o.state).toEqual(t.state);
    expect(observed.ours).toEqual(observed.theirs);
  });

  it('user event with no reply: both send nothing to the client (ours 204; theirs an empty 200)', async () => {
    behaviour.user = { reply: 'none' };
    const { ours: o, theirs: t } = await both('POST', event('user.message'), 'hi');
    expect(o.status).toBe(204);
    expect(t.status).toBe(200);
    expect(o.body.length).toBe(0);
    expect(t.body.length).toBe(0);
  });

  it('hub names compare without case on both sides', async () => {
    const { ours: o, theirs: t } = await both(
      'POST',
      event('connect', { 'ce-hub': 'CHAT' }),
      JSON.stringify(connectBody()),
    );
    expect(o.status).toBe(204);
    expect(t.status).toBe(204);
  });

  it('connected: both acknowledge (ours 204 after the hook ran; theirs 200 before it) and the hooks see the same', async () => {
    expectNotification();
    const headers = event('connected', {
      'ce-subprotocol': 'json.webpubsub.azure.v1',
      'ce-connectionstate': stateHeader({ a: 1 }),
    });
    const { ours: o, theirs: t } = await both('POST', headers, '{}');
    await Promise.all([notified.ours, notified.theirs]);
    expect(o.status).toBe(204);
    expect(t.status).toBe(200);
    expect(observed.ours).toEqual(observed.theirs);
  });

  it('disconnected: both acknowledge and the hooks see the same reason and state', async () => {
    expectNotification();
    const headers = event('disconnected', { 'ce-connectionstate': stateHeader({ a: 1 }) });
    const { ours: o, theirs: t } = await both('POST', headers, JSON.stringify({ reason: 'Normal' }));
    await Promise.all([notified.ours, notified.theirs]);
    expect(o.status).toBe(204);
    expect(t.status).toBe(200);
    expect(observed.ours).toEqual(observed.theirs);
  });

  describe('deliberate differences', () => {
    it('a wrong ce-signature: theirs accepts it (it never checks), we answer 401 and call no hook', async () => {
      const headers = event('connect', { 'ce-signature': 'sha256=' + 'de'.repeat(32) });
      const { ours: o, theirs: t } = await both('POST', headers, JSON.stringify(connectBody()));
      expect(t.status).toBe(204);
      expect(o.status).toBe(401);
      expect(observed.ours).toEqual([]);
      expect(observed.theirs).toHaveLength(1);
    });

    it('an unparseable connection state: theirs silently starts from {}, we refuse with 400', async () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
      const headers = event('user.message', { 'ce-connectionstate': '!!not base64!!' });
      const { ours: o, theirs: t } = await both('POST', headers, 'hi');
      expect(t.status).toBe(200);
      expect(o.status).toBe(400);
      expect(observed.ours).toEqual([]);
      expect(warn).toHaveBeenCalled(); // their only trace of the bad state is a console warning
      warn.mockRestore();
    });
  });
});
