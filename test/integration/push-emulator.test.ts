import { WebPubSubClient, WebPubSubJsonProtocol } from '@azure/web-pubsub-client';
import { odata, WebPubSubServiceClient } from '@azure/web-pubsub';
import { createEmulator, type Emulator } from '../../emulator';
import { startPushHost, type PushHost } from '../support/push-host';

/**
 * End to end: other servers push through our API (local Functions host) to the local Web PubSub emulator,
 * and real @azure/web-pubsub-client clients receive what was pushed. Client access URLs come from the
 * official server SDK, so the only code of ours on the path is the push API.
 */
const FUNCTION_KEY = 'emulator-push-function-key';

interface Received {
  from: 'server' | 'group';
  group?: string;
  dataType: string;
  data: unknown;
}

/** A connected client and the messages it has received, in order; `next()` waits for the next one. */
interface TestClient {
  client: WebPubSubClient;
  connectionId: string;
  next(): Promise<Received>;
  stopped: Promise<void>;
}

let emulator: Emulator;
let app: PushHost;
let tokens: WebPubSubServiceClient;
const clients: TestClient[] = [];

async function connect(userId: string, reliable: boolean): Promise<TestClient> {
  const { url } = await tokens.getClientAccessToken({ userId });
  const client = new WebPubSubClient(url, {
    autoReconnect: false,
    ...(reliable ? {} : { protocol: WebPubSubJsonProtocol() }),
    // The client's keep-alive tasks sleep out their interval (20-40 s) even after stop(); no need for them here.
    keepAliveIntervalInMs: 0,
    keepAliveTimeoutInMs: 0,
  });
  const queue: Received[] = [];
  const waiting: ((message: Received) => void)[] = [];
  const deliver = (message: Received): void => {
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  };
  client.on('server-message', (e) =>
    deliver({ from: 'server', dataType: e.message.dataType, data: e.message.data }),
  );
  client.on('group-message', (e) =>
    deliver({ from: 'group', group: e.message.group, dataType: e.message.dataType, data: e.message.data }),
  );
  const connected = new Promise<string>((resolve) => client.on('connected', (e) => resolve(e.connectionId)));
  const stopped = new Promise<void>((resolve) => client.on('stopped', () => resolve()));
  await client.start();
  const testClient: TestClient = {
    client,
    connectionId: await connected,
    next: () => {
      const queued = queue.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
    },
    stopped,
  };
  clients.push(testClient);
  return testClient;
}

function push(method: string, path: string, body?: string | Buffer, contentType?: string): Promise<Response> {
  return fetch(app.url(path), {
    method,
    headers: { 'x-functions-key': FUNCTION_KEY, ...(contentType ? { 'content-type': contentType } : {}) },
    body,
  });
}

let alice: TestClient;
let bob: TestClient;

beforeAll(async () => {
  emulator = await createEmulator({ port: 0 });
  app = await startPushHost(
    { WebPubSubConnectionString: emulator.connectionString, WebPubSubHub: 'chat' },
    { functionKey: FUNCTION_KEY },
  );
  tokens = new WebPubSubServiceClient(emulator.connectionString, 'chat', { allowInsecureConnection: true });
  // Alice on the default (reliable) protocol, Bob on json.webpubsub.azure.v1.
  alice = await connect('alice', true);
  bob = await connect('bob', false);
});

afterAll(async () => {
  for (const { client } of clients) client.stop();
  await Promise.all(clients.map(({ stopped }) => stopped));
  await app.close();
  await emulator.close();
});

describe('pushing through the API to clients of the emulator', () => {
  it('sends JSON to everyone', async () => {
    const response = await push('POST', '/hubs/chat/messages', '{"hello":"all","n":1}', 'application/json');
    expect(response.status).toBe(202);
    for (const client of [alice, bob]) {
      expect(await client.next()).toEqual({ from: 'server', dataType: 'json', data: { hello: 'all', n: 1 } });
    }
  });

  it('sends text to one user only', async () => {
    expect((await push('POST', '/hubs/chat/users/bob/messages', 'for bob ☃', 'text/plain')).status).toBe(202);
    expect((await push('POST', '/hubs/chat/messages', 'sentinel', 'text/plain')).status).toBe(202);
    expect(await bob.next()).toEqual({ from: 'server', dataType: 'text', data: 'for bob ☃' });
    expect(await bob.next()).toMatchObject({ data: 'sentinel' });
    // Alice's next message is the sentinel: the user message never reached her.
    expect(await alice.next()).toMatchObject({ data: 'sentinel' });
  });

  it('adds a user to a group, lists and checks it, and sends binary to the group', async () => {
    expect((await push('PUT', '/hubs/chat/groups/room%201/users/alice')).status).toBe(204);
    expect((await push('HEAD', '/hubs/chat/groups/room%201/connections')).status).toBe(200);
    const list = await push('GET', '/hubs/chat/groups/room%201/connections');
    expect(await list.json()).toEqual({ value: [{ connectionId: alice.connectionId, userId: 'alice' }] });

    const bytes = Buffer.from([1, 2, 3, 250]);
    expect(
      (await push('POST', '/hubs/chat/groups/room%201/messages', bytes, 'application/octet-stream')).status,
    ).toBe(202);
    const received = await alice.next();
    expect(received).toMatchObject({ from: 'group', group: 'room 1', dataType: 'binary' });
    expect(Buffer.from(received.data as ArrayBuffer).equals(bytes)).toBe(true);

    expect((await push('DELETE', '/hubs/chat/groups/room%201/users/alice')).status).toBe(204);
    expect((await push('HEAD', '/hubs/chat/groups/room%201/connections')).status).toBe(404);
  });

  it('filters with an OData filter built by the SDK helper', async () => {
    const filter = odata`userId ne ${'alice'}`;
    expect(
      (
        await push(
          'POST',
          `/hubs/chat/messages?filter=${encodeURIComponent(filter)}`,
          '"not alice"',
          'application/json',
        )
      ).status,
    ).toBe(202);
    expect((await push('POST', '/hubs/chat/messages', '"sentinel 2"', 'application/json')).status).toBe(202);
    expect(await bob.next()).toMatchObject({ data: 'not alice' });
    expect(await bob.next()).toMatchObject({ data: 'sentinel 2' });
    expect(await alice.next()).toMatchObject({ data: 'sentinel 2' });
  });

  it('sends to one connection, and answers the exists checks', async () => {
    const path = `/hubs/chat/connections/${encodeURIComponent(bob.connectionId)}`;
    expect(
      (await push('POST', `${path}/messages?ttl=30`, '{"direct":true}', 'application/json')).status,
    ).toBe(202);
    expect(await bob.next()).toEqual({ from: 'server', dataType: 'json', data: { direct: true } });
    expect((await push('HEAD', path)).status).toBe(200);
    expect((await push('HEAD', '/hubs/chat/users/alice/connections')).status).toBe(200);
    expect((await push('HEAD', '/hubs/chat/users/carol/connections')).status).toBe(404);
  });

  it('grants, checks and revokes a permission', async () => {
    const path = `/hubs/chat/connections/${encodeURIComponent(alice.connectionId)}/permissions/sendToGroup?targetName=room`;
    expect((await push('HEAD', path)).status).toBe(404);
    expect((await push('PUT', path)).status).toBe(204);
    expect((await push('HEAD', path)).status).toBe(200);
    expect((await push('DELETE', path)).status).toBe(204);
    expect((await push('HEAD', path)).status).toBe(404);
  });

  it('passes on the 404 of adding a connection that does not exist', async () => {
    const response = await push('PUT', '/hubs/chat/groups/room/connections/no-such-connection');
    expect(response.status).toBe(404);
  });

  it('closes a connection: the client stops and the connection no longer exists', async () => {
    const path = `/hubs/chat/connections/${encodeURIComponent(bob.connectionId)}`;
    expect((await push('DELETE', `${path}?reason=maintenance`)).status).toBe(204);
    await bob.stopped;
    expect((await push('HEAD', path)).status).toBe(404);
  });
});
