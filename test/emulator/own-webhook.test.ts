import {
  WebPubSubClient,
  WebPubSubJsonProtocol,
  type OnServerDataMessageArgs,
} from '@azure/web-pubsub-client';
import { join } from 'node:path';
import { startLocalHost, type LocalHost } from '../../dev/host/server';
import type { Emulator } from '../../emulator';
import { clientUrl, refusedStatus, serviceClient, startEmulator, TestSocket } from './helpers';

/**
 * The emulator calling this project's own webhook (src/functions/webhook.ts) served by the local Functions
 * host, configured with the emulator's connection string: the webhook checks WebHook-Request-Origin against
 * the endpoint's host and ce-signature against the access key, so a wrong header or signature fails here.
 * The default application admits only connections with a user id and echoes `echo` events.
 */
const ROOT = join(__dirname, '..', '..');
const ENTRY = ['src/functions/webhook.ts', 'src/functions/health.ts'];

const savedEnv = new Map<string, string | undefined>();
const hostLog: string[] = [];
const logWaiters: (() => void)[] = [];
let host: LocalHost;
let emulator: Emulator;
const clients: WebPubSubClient[] = [];

function isAppSetting(name: string): boolean {
  return name.startsWith('WebPubSub') || name === 'AZURE_CLIENT_ID';
}

/** Resolves once the host has logged a line matching `pattern` (at index `from` or later). */
function hostLogged(pattern: RegExp, from = 0): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => hostLog.slice(from).some((line) => pattern.test(line));
    if (check()) {
      resolve();
      return;
    }
    const waiter = (): void => {
      if (!check()) return;
      logWaiters.splice(logWaiters.indexOf(waiter), 1);
      resolve();
    };
    logWaiters.push(waiter);
  });
}

beforeAll(async () => {
  for (const name of Object.keys(process.env).filter(isAppSetting)) {
    savedEnv.set(name, process.env[name]);
    Reflect.deleteProperty(process.env, name);
  }
  host = await startLocalHost({
    rootDir: ROOT,
    port: 0,
    entry: ENTRY,
    applySettings: false,
    log: (line) => {
      hostLog.push(line);
      for (const waiter of [...logWaiters]) waiter();
    },
  });
  emulator = await startEmulator({
    hubs: {
      chat: {
        eventHandlers: [
          {
            urlTemplate: `http://127.0.0.1:${host.port}/api/webpubsub/events`,
            systemEvents: ['connect', 'connected', 'disconnected'],
            userEventPattern: '*',
          },
        ],
      },
    },
  });
  // The app reads its settings on its first request, which the emulator's first event will be.
  savedEnv.set('WebPubSubConnectionString', process.env.WebPubSubConnectionString);
  savedEnv.set('WebPubSubHub', process.env.WebPubSubHub);
  process.env.WebPubSubConnectionString = emulator.connectionString;
  process.env.WebPubSubHub = 'chat';
});

afterAll(async () => {
  for (const client of clients) client.stop();
  await emulator.close();
  await host.close();
  for (const [name, value] of savedEnv) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
});

async function start(
  userId: string,
  protocol?: ReturnType<typeof WebPubSubJsonProtocol>,
): Promise<{ client: WebPubSubClient; connectionId: string }> {
  const url = await clientUrl(emulator, 'chat', { userId });
  const client = new WebPubSubClient(
    { getClientAccessUrl: async () => url },
    {
      ...(protocol ? { protocol } : {}),
      keepAliveIntervalInMs: 0,
      keepAliveTimeoutInMs: 0,
    },
  );
  clients.push(client);
  const connected = new Promise<string>((resolve) =>
    client.on('connected', (event) => resolve(event.connectionId)),
  );
  await client.start();
  return { client, connectionId: await connected };
}

describe("the emulator against this project's webhook through the local host", () => {
  it('validates the handler, then connect, connected, user events and disconnected all pass its signature check', async () => {
    const { client, connectionId } = await start('alice');
    expect(hostLog).toContainEqual(
      expect.stringMatching(/^OPTIONS \/api\/webpubsub\/events -> 200 webpubsubEvents/),
    );
    expect(hostLog).toContainEqual(
      expect.stringMatching(/^POST \/api\/webpubsub\/events -> 200 webpubsubEvents/),
    );
    await hostLogged(/^POST \/api\/webpubsub\/events -> 204 webpubsubEvents/);

    // The echo reply reaches the client before the ack that resolves sendEvent.
    const replies: OnServerDataMessageArgs[] = [];
    client.on('server-message', (event) => replies.push(event));
    await client.sendEvent('echo', { hello: 'webhook' }, 'json');
    expect(replies.map((event) => event.message)).toEqual([
      expect.objectContaining({ dataType: 'json', data: { hello: 'webhook' } }),
    ]);
    await client.sendEvent('echo', 'plain text', 'text');
    expect(replies[1]?.message).toMatchObject({ dataType: 'text', data: 'plain text' });
    await client.sendEvent('something-else', 'ignored', 'text');
    expect(replies).toHaveLength(2);

    const before = hostLog.length;
    client.stop();
    await hostLogged(/disconnected/, before);
    expect(hostLog.slice(before).join('\n')).not.toMatch(/-> 40[13]/);
    expect(await serviceClient(emulator, 'chat').connectionExists(connectionId)).toBe(false);
  });

  it('uses the subprotocol the webhook picks for the plain JSON client too', async () => {
    const { client } = await start('bob', WebPubSubJsonProtocol());
    const reply = new Promise<OnServerDataMessageArgs>((resolve) => client.on('server-message', resolve));
    await client.sendEvent('echo', new Uint8Array([1, 2, 3]).buffer, 'binary');
    const message = (await reply).message;
    expect(message.dataType).toBe('binary');
    expect([...new Uint8Array(message.data as ArrayBuffer)]).toEqual([1, 2, 3]);
    client.stop();
  });

  it('answers invokeEvent (client SDK 1.1) with the handler reply as an invokeResponse', async () => {
    const { client } = await start('carol');
    const result = await client.invokeEvent('echo', { ask: 1 }, 'json');
    expect(result).toMatchObject({ dataType: 'json', data: { ask: 1 } });
    const empty = await client.invokeEvent('no-reply', 'x', 'text');
    expect(empty.data).toBeUndefined();
    client.stop();
  });

  it("passes the webhook's 401 for a connection without a user id through to the client", async () => {
    expect(await refusedStatus(await clientUrl(emulator, 'chat'), 'json.reliable.webpubsub.azure.v1')).toBe(
      401,
    );
  });

  it('lets a simple WebSocket client with a user id connect; its frames become message events', async () => {
    const socket = await TestSocket.open(await clientUrl(emulator, 'chat', { userId: 'raw' }));
    const before = hostLog.length;
    socket.ws.send('hello webhook');
    // The message event is answered 204 (nothing to send back) and the socket stays open.
    await hostLogged(/^POST \/api\/webpubsub\/events -> 204 webpubsubEvents/, before);
    socket.ws.send('still open');
    await hostLogged(/^POST \/api\/webpubsub\/events -> 204 webpubsubEvents/, hostLog.length);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    await socket.close();
  });
});
