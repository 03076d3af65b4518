import { WebPubSubClient, type OnGroupDataMessageArgs } from '@azure/web-pubsub-client';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Emulator } from '../../emulator';
import { allEvents, clientUrl, serviceClient, startEmulator, TestWebhook } from './helpers';

/**
 * Reliable recovery with the real @azure/web-pubsub-client (its default protocol,
 * json.reliable.webpubsub.azure.v1): the network between the client and the emulator is cut in the middle
 * of a stream of group messages, by a TCP relay that drops every connection it carries. The client
 * recovers on its own; every message must arrive exactly once and in order, with no second connect.
 */
const MESSAGES = 150;
const CUT_AFTER = 50;

let emulator: Emulator;
let webhook: TestWebhook;
let relay: Server;
const carried = new Set<Socket>();
let relayed = 0;
let client: WebPubSubClient | undefined;

beforeAll(async () => {
  webhook = await TestWebhook.start();
  emulator = await startEmulator({ hubs: { stream: allEvents(`${webhook.url}/{event}`) } });
  relay = createServer((downstream) => {
    relayed++;
    const upstream = connect(emulator.port, '127.0.0.1');
    for (const socket of [downstream, upstream]) {
      carried.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => carried.delete(socket));
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
});

afterAll(async () => {
  client?.stop();
  await emulator.close();
  for (const socket of carried) socket.destroy();
  relay.close();
  await webhook.close();
});

/** Drops every connection through the relay at once, without a WebSocket close frame on either side. */
function cutTheNetwork(): void {
  for (const socket of carried) socket.resetAndDestroy();
}

it('recovers a reliable client after its socket is cut mid-stream, losing and duplicating nothing', async () => {
  const relayPort = (relay.address() as AddressInfo).port;
  const direct = await clientUrl(emulator, 'stream', { userId: 'listener', groups: ['feed'] });
  const throughRelay = direct.replace(`:${emulator.port}/`, `:${relayPort}/`);
  client = new WebPubSubClient(
    { getClientAccessUrl: async () => throughRelay },
    {
      keepAliveIntervalInMs: 0,
      keepAliveTimeoutInMs: 0,
    },
  );
  let connectedEvents = 0;
  let disconnectedEvents = 0;
  client.on('connected', () => connectedEvents++);
  client.on('disconnected', () => disconnectedEvents++);
  const received: number[] = [];
  let onMessage: (() => void) | undefined;
  client.on('group-message', (event: OnGroupDataMessageArgs) => {
    received.push((event.message.data as { n: number }).n);
    onMessage?.();
  });
  const firstConnected = new Promise<void>((resolve) => client?.on('connected', () => resolve()));
  await client.start();
  await firstConnected;

  const service = serviceClient(emulator, 'stream');
  const allArrived = new Promise<void>((resolve) => {
    onMessage = () => {
      if (received.includes(MESSAGES + 1)) resolve();
    };
  });
  for (let n = 1; n <= MESSAGES; n++) {
    await service.group('feed').sendToAll({ n });
    if (n === CUT_AFTER) cutTheNetwork();
  }
  // A last message after the stream: once it is in, everything before it has been delivered.
  await service.group('feed').sendToAll({ n: MESSAGES + 1 });
  await allArrived;

  expect(received).toEqual(Array.from({ length: MESSAGES + 1 }, (_, i) => i + 1));
  expect(connectedEvents).toBe(1);
  expect(disconnectedEvents).toBe(0);
  // A second socket went through the relay: the client really lost the first and recovered, and the
  // upstream saw one connection only.
  expect(relayed).toBe(2);
  expect(webhook.events('azure.webpubsub.sys.connect')).toHaveLength(1);
  expect(webhook.events('azure.webpubsub.sys.connected')).toHaveLength(1);
  expect(webhook.events('azure.webpubsub.sys.disconnected')).toHaveLength(0);
});
