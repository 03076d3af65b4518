import { RestError } from '@azure/core-rest-pipeline';
import {
  WebPubSubClient,
  WebPubSubJsonProtocol,
  WebPubSubJsonReliableProtocol,
  type OnGroupDataMessageArgs,
  type OnServerDataMessageArgs,
  type WebPubSubClientOptions,
} from '@azure/web-pubsub-client';
import type { Emulator } from '../../emulator';
import { clientUrl, restRequest, serviceClient, startEmulator } from './helpers';

/**
 * The official SDKs on both sides against the emulator: @azure/web-pubsub (REST) and
 * @azure/web-pubsub-client with its default reliable protocol and the plain JSON one.
 * Scenario names are those of Microsoft's emulator tests (WebPubSubEmulatorTests.OfficialSdk_*).
 */
let emulator: Emulator;
const clients: WebPubSubClient[] = [];

beforeAll(async () => {
  emulator = await startEmulator();
});

afterAll(async () => {
  for (const client of clients) client.stop();
  await emulator.close();
});

const PROTOCOLS: [string, () => WebPubSubClientOptions['protocol']][] = [
  ['reliable JSON (the client default)', () => WebPubSubJsonReliableProtocol()],
  ['plain JSON', () => WebPubSubJsonProtocol()],
];

/** A started client and the connection id the service gave it. */
async function startClient(
  hub: string,
  userId: string,
  protocol: WebPubSubClientOptions['protocol'],
  roles: string[] = ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'],
): Promise<{ client: WebPubSubClient; connectionId: string }> {
  const url = await clientUrl(emulator, hub, { userId, roles });
  // No keep-alive timers: the client's ping and timeout loops sleep 20 s / 40 s even after stop().
  const client = new WebPubSubClient(
    { getClientAccessUrl: async () => url },
    { protocol, keepAliveIntervalInMs: 0, keepAliveTimeoutInMs: 0 },
  );
  clients.push(client);
  const connected = new Promise<string>((resolve) => {
    client.on('connected', (event) => resolve(event.connectionId));
  });
  await client.start();
  return { client, connectionId: await connected };
}

function nextGroupMessage(client: WebPubSubClient): Promise<OnGroupDataMessageArgs> {
  return new Promise((resolve) => {
    const handler = (event: OnGroupDataMessageArgs): void => {
      client.off('group-message', handler);
      resolve(event);
    };
    client.on('group-message', handler);
  });
}

function nextServerMessage(client: WebPubSubClient): Promise<OnServerDataMessageArgs> {
  return new Promise((resolve) => {
    const handler = (event: OnServerDataMessageArgs): void => {
      client.off('server-message', handler);
      resolve(event);
    };
    client.on('server-message', handler);
  });
}

describe.each(PROTOCOLS)('@azure/web-pubsub-client, %s', (_name, protocol) => {
  it('WebPubSubEmulatorTests.OfficialSdk_ClientToGroupAndRestSend', async () => {
    const hub = 'sdkgroups';
    const a = await startClient(hub, 'alice', protocol());
    const b = await startClient(hub, 'bob', protocol());
    const service = serviceClient(emulator, hub);

    expect((await a.client.joinGroup('room')).isDuplicated).toBe(false);
    await b.client.joinGroup('room');
    const toB = nextGroupMessage(b.client);
    await a.client.sendToGroup('room', { hello: 'json' }, 'json');
    const received = await toB;
    expect(received.message).toMatchObject({
      group: 'room',
      fromUserId: 'alice',
      dataType: 'json',
      data: { hello: 'json' },
    });

    const fromServer = nextServerMessage(a.client);
    await service.sendToAll('broadcast text', { contentType: 'text/plain' });
    expect((await fromServer).message).toMatchObject({ dataType: 'text', data: 'broadcast text' });

    const toGroup = nextGroupMessage(b.client);
    await service.group('room').sendToAll({ n: 1 });
    expect((await toGroup).message).toMatchObject({ group: 'room', dataType: 'json', data: { n: 1 } });

    const toUser = nextServerMessage(b.client);
    await service.sendToUser('bob', new Uint8Array([1, 2, 3]).buffer);
    const binary = (await toUser).message;
    expect(binary.dataType).toBe('binary');
    expect([...new Uint8Array(binary.data as ArrayBuffer)]).toEqual([1, 2, 3]);

    expect(await service.connectionExists(a.connectionId)).toBe(true);
    expect(await service.userExists('bob')).toBe(true);
    expect(await service.groupExists('room')).toBe(true);
    a.client.stop();
    b.client.stop();
  });

  it('WebPubSubEmulatorTests.OfficialSdk_CloseConnection', async () => {
    const hub = 'sdkclose';
    const { client, connectionId } = await startClient(hub, 'carol', protocol());
    const service = serviceClient(emulator, hub);
    const stopped = new Promise<string | undefined>((resolve) => {
      client.on('disconnected', (event) => resolve(event.message?.message));
    });
    await service.closeConnection(connectionId, { reason: 'bye now' });
    expect(await stopped).toBe('Application server closed the connection. Reason: bye now');
    expect(await service.connectionExists(connectionId)).toBe(false);
    client.stop();
  });
});

describe('@azure/web-pubsub against the emulator', () => {
  it('WebPubSubEmulatorTests.OfficialSdk_RestSendWithInvalidJson', async () => {
    // The JS SDK always serializes JSON itself, so the broken body goes out through its own HTTP pipeline.
    const response = await restRequest(emulator, 'POST', '/api/hubs/sdkjson/:send?api-version=2024-12-01', {
      body: '{"broken"',
      contentType: 'application/json',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-ms-error-code')).toBe('Error.BadRequest');
    expect(await response.json()).toEqual({
      code: 'Error.BadRequest',
      message: 'The request body is not a valid JSON.',
    });
  });

  it('WebPubSubEmulatorTests.OfficialSdk_MissingRestResources', async () => {
    const service = serviceClient(emulator, 'sdkmissing');
    expect(await service.connectionExists('nobody')).toBe(false);
    expect(await service.userExists('nobody')).toBe(false);
    expect(await service.groupExists('nothing')).toBe(false);
    // Each of these throws a RestError unless the emulator answers the operation's exact success status.
    await service.sendToConnection('nobody', 'hi');
    await service.sendToUser('nobody', 'hi');
    await service.group('nothing').sendToAll('hi');
    await service.closeConnection('nobody');
    await service.group('nothing').removeConnection('nobody');
    await service.removeConnectionFromAllGroups('nobody');
    await service.closeUserConnections('nobody');
    const error = await service
      .group('nothing')
      .addConnection('nobody')
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as RestError).statusCode).toBe(404);
    expect((error as RestError).code).toBe('Error.Connection.NotExisted');
  });
});
