import { request } from 'node:http';
import type { Emulator } from '../../emulator';
import {
  allEvents,
  clientUrl,
  refusedStatus,
  serviceClient,
  signToken,
  startEmulator,
  TestSocket,
  TestWebhook,
} from './helpers';

/**
 * The client endpoint and the JSON subprotocols (catalogue 8.2: ClientWebSocketEndpointTests,
 * WebPubSubJsonV1IntegrationTests, WebPubSubEmulatorTests), with raw `ws` clients so that every frame,
 * close code and handshake status is visible. Tokens come from the official SDK.
 */
const JSON_V1 = 'json.webpubsub.azure.v1';
const RELIABLE = 'json.reliable.webpubsub.azure.v1';
const ALL_ROLES = ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'];

let emulator: Emulator;
let small: Emulator;
let webhook: TestWebhook;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  webhook = await TestWebhook.start();
  emulator = await startEmulator({ hubs: { events: allEvents(`${webhook.url}/{hub}/{event}`) } });
  // Small limits make the overflow scenarios cheap.
  small = await startEmulator({
    limits: {
      maxClientMessageBytes: 1024,
      maxReliableMessages: 5,
      maxReliableBytes: 4096,
      maxOutboundMessages: 50,
    },
  });
});

beforeEach(() => {
  webhook.responder = () => undefined;
});

afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await emulator.close();
  await small.close();
  await webhook.close();
});

async function open(url: string, protocols?: string | string[]): Promise<TestSocket> {
  const socket = await TestSocket.open(url, protocols);
  sockets.push(socket);
  return socket;
}

async function json(
  hub: string,
  options: { userId?: string; roles?: string[]; groups?: string[] } = {},
  protocol = JSON_V1,
  target = emulator,
): Promise<{ socket: TestSocket; id: string; token: string | undefined; url: string }> {
  const url = await clientUrl(target, hub, options);
  const socket = await open(url, protocol);
  const connected = await socket.nextJson();
  expect(connected).toMatchObject({ type: 'system', event: 'connected' });
  return {
    socket,
    id: connected.connectionId as string,
    token: connected.reconnectionToken as string | undefined,
    url,
  };
}

function recoveryUrl(url: string, id: string, token: string | undefined): string {
  const query = `awps_connection_id=${encodeURIComponent(id)}`;
  return token === undefined
    ? `${url}&${query}`
    : `${url}&${query}&awps_reconnection_token=${encodeURIComponent(token)}`;
}

/** Drops the client's socket without a close frame, as a network cut does (the server sees 1006). */
async function cut(socket: TestSocket): Promise<void> {
  socket.ws.terminate();
  await socket.closed;
}

/** A barrier: a ping answered means every earlier frame of this socket has been processed. */
async function roundTrip(socket: TestSocket): Promise<void> {
  socket.sendJson({ type: 'ping' });
  await socket.nextOfType('pong');
}

/** The raw 101 answer to an upgrade, for headers the ws client would refuse to show. */
function rawUpgrade(
  url: string,
  protocols: string,
): Promise<{ status: number; protocol: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol': protocols,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      const protocol = res.headers['sec-websocket-protocol'];
      resolve({ status: res.statusCode ?? 0, protocol: Array.isArray(protocol) ? protocol[0] : protocol });
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, protocol: undefined });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ClientWebSocketEndpointTests', () => {
  it('ClientWebSocketEndpointTests.RawSendToGroupPreservesBinaryFrames', async () => {
    const receiver = await open(await clientUrl(emulator, 'raw1', { groups: ['g'] }));
    const sender = await open(
      `${await clientUrl(emulator, 'raw1', { roles: ['webpubsub.sendToGroup.g'] })}&webpubsub_mode=sendToGroup&group=g`,
    );
    const bytes = Buffer.from([0, 255, 1, 254, 0x80]);
    sender.ws.send(bytes);
    const frame = await receiver.next();
    expect(frame.isBinary).toBe(true);
    expect(frame.data.equals(bytes)).toBe(true);
    sender.ws.send('text frame');
    expect(await receiver.next()).toEqual({ data: Buffer.from('text frame'), isBinary: false });
  });

  it('ClientWebSocketEndpointTests.RawSendersUseConnectionScopedGroups', async () => {
    const r1 = await open(await clientUrl(emulator, 'raw2', { groups: ['g1'] }));
    const r2 = await open(await clientUrl(emulator, 'raw2', { groups: ['g2'] }));
    const mode = (group: string): string => `&webpubsub_mode=sendToGroup&group=${group}`;
    const s1 = await open(
      `${await clientUrl(emulator, 'raw2', { roles: ['webpubsub.sendToGroup'] })}${mode('g1')}`,
    );
    const s2 = await open(
      `${await clientUrl(emulator, 'raw2', { roles: ['webpubsub.sendToGroup'] })}${mode('g2')}`,
    );
    s1.ws.send('for g1');
    s2.ws.send('for g2');
    expect(await r1.nextText()).toBe('for g1');
    expect(await r2.nextText()).toBe('for g2');
    // Both fan-outs have run; a later message to each proves nothing else was queued before it.
    const service = serviceClient(emulator, 'raw2');
    await service.group('g1').sendToAll('end', { contentType: 'text/plain' });
    await service.group('g2').sendToAll('end', { contentType: 'text/plain' });
    expect(await r1.nextText()).toBe('end');
    expect(await r2.nextText()).toBe('end');
  });

  it('ClientWebSocketEndpointTests.RawSendWithoutRoleClosesConnection', async () => {
    const sender = await open(`${await clientUrl(emulator, 'raw3')}&webpubsub_mode=sendToGroup&group=g`);
    sender.ws.send('not allowed');
    expect((await sender.closed).code).toBe(1008);
  });

  it('ClientWebSocketEndpointTests.UnsupportedSubprotocolIsNotSelected', async () => {
    const url = await clientUrl(emulator, 'sub1');
    expect(await rawUpgrade(url, 'protobuf.webpubsub.azure.v1, custom.v1')).toEqual({
      status: 101,
      protocol: undefined,
    });
    expect(await rawUpgrade(url, `custom.v1, ${JSON_V1}`)).toEqual({ status: 101, protocol: JSON_V1 });
  });

  it('ClientWebSocketEndpointTests.JsonSubprotocolReceivesConnectedMessage', async () => {
    const socket = await open(await clientUrl(emulator, 'sub2', { userId: 'user1' }), JSON_V1);
    expect(socket.ws.protocol).toBe(JSON_V1);
    const connected = await socket.nextJson();
    expect(connected).toEqual({
      type: 'system',
      event: 'connected',
      userId: 'user1',
      connectionId: expect.any(String),
    });
    expect(await serviceClient(emulator, 'sub2').connectionExists(connected.connectionId as string)).toBe(
      true,
    );
  });

  it('ClientWebSocketEndpointTests.NegotiationIsCaseInsensitive', async () => {
    const socket = await open(await clientUrl(emulator, 'sub3'), 'JSON.WebPubSub.Azure.V1');
    expect(socket.ws.protocol).toBe('JSON.WebPubSub.Azure.V1');
    expect(await socket.nextJson()).toMatchObject({ type: 'system', event: 'connected', userId: null });
  });

  it('ClientWebSocketEndpointTests.ReliableJsonSubprotocolReceivesReconnectionToken', async () => {
    const { token } = await json('rel1', {}, RELIABLE);
    expect(typeof token).toBe('string');
    expect((token as string).length).toBeGreaterThanOrEqual(32);
  });

  it('ClientWebSocketEndpointTests.InvalidReconnectionTokenClosesWithPolicyViolation', async () => {
    const { socket, id, url } = await json('rel2', {}, RELIABLE);
    await cut(socket);
    const recovery = await open(recoveryUrl(url, id, 'not-the-token'), RELIABLE);
    expect((await recovery.closed).code).toBe(1008);
  });

  it('ClientWebSocketEndpointTests.ReconnectionTokenIsScopedToConnectionId', async () => {
    const a = await json('rel3', {}, RELIABLE);
    const b = await json('rel3', {}, RELIABLE);
    await cut(b.socket);
    const recovery = await open(recoveryUrl(b.url, b.id, a.token), RELIABLE);
    expect((await recovery.closed).code).toBe(1008);
  });

  it('ClientWebSocketEndpointTests.ReconnectWithoutTokenClosesWithPolicyViolation', async () => {
    const { socket, id, url } = await json('rel4', {}, RELIABLE);
    await cut(socket);
    const recovery = await open(recoveryUrl(url, id, undefined), RELIABLE);
    expect((await recovery.closed).code).toBe(1008);
  });

  it('ClientWebSocketEndpointTests.ReconnectUsesOriginalReliableSubprotocol', async () => {
    const { socket, id, token, url } = await json('rel5', {}, RELIABLE);
    await cut(socket);
    const recovered = await open(recoveryUrl(url, id, token), JSON_V1);
    expect(await recovered.nextJson()).toMatchObject({ event: 'connected', connectionId: id });
    await serviceClient(emulator, 'rel5').sendToConnection(id, 'after', { contentType: 'text/plain' });
    expect(await recovered.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'text',
      data: 'after',
      sequenceId: 1,
    });
  });

  it('ClientWebSocketEndpointTests.ReconnectionTokenWithoutConnectionIdStartsNewConnection', async () => {
    const first = await json('rel6', {}, RELIABLE);
    const fresh = await open(
      `${first.url}&awps_reconnection_token=${encodeURIComponent(first.token as string)}`,
      RELIABLE,
    );
    const connected = await fresh.nextJson();
    expect(connected).toMatchObject({ event: 'connected' });
    expect(connected.connectionId).not.toBe(first.id);
  });

  it('ClientWebSocketEndpointTests.ReconnectCanonicalizesHubName', async () => {
    const { socket, id, token, url } = await json('rel7', {}, RELIABLE);
    await cut(socket);
    const recovered = await open(recoveryUrl(url.replace('/hubs/rel7', '/hubs/REL7'), id, token), RELIABLE);
    expect(await recovered.nextJson()).toMatchObject({
      event: 'connected',
      connectionId: id,
      reconnectionToken: token,
    });
  });

  it('ClientWebSocketEndpointTests.EmptyRawModeIsRejectedBeforeUpgrade', async () => {
    const url = await clientUrl(emulator, 'mode1');
    expect(await refusedStatus(`${url}&webpubsub_mode=`)).toBe(400);
    expect(await refusedStatus(`${url}&webpubsub_mode=sendToGroup`)).toBe(400);
    expect(await refusedStatus(`${url}&webpubsub_mode=sendToGroup&group=g&noEcho=maybe`)).toBe(400);
  });

  it('ClientWebSocketEndpointTests.OversizedMessageClosesWithMessageTooBig', async () => {
    const { socket } = await json('big1', {}, JSON_V1, small);
    socket.ws.send(JSON.stringify({ type: 'event', event: 'e', dataType: 'text', data: 'x'.repeat(2000) }));
    expect((await socket.closed).code).toBe(1009);
  });

  it('WebPubSubEmulatorTests.WebSocket_InvalidClientToken_RejectsHandshake', async () => {
    const base = `ws://localhost:${emulator.port}/client/hubs/auth1`;
    const aud = `http://localhost:${emulator.port}/client/hubs/auth1`;
    expect(await refusedStatus(base)).toBe(401);
    expect(
      await refusedStatus(
        `${base}?access_token=${await signToken({ aud }, 'another-key-0123456789-0123456789-abc')}`,
      ),
    ).toBe(401);
    expect(
      await refusedStatus(
        `${base}?access_token=${await signToken({ aud }, undefined, Math.floor(Date.now() / 1000) - 3600)}`,
      ),
    ).toBe(401);
    const otherHub = await signToken({ aud: `http://localhost:${emulator.port}/client/hubs/other` });
    expect(await refusedStatus(`${base}?access_token=${otherHub}`)).toBe(401);
    // A bearer header works as well as the query parameter.
    const viaHeader = await TestSocket.open(base, JSON_V1, {
      headers: { Authorization: `Bearer ${await signToken({ aud })}` },
    });
    sockets.push(viaHeader);
    expect(await viaHeader.nextJson()).toMatchObject({ event: 'connected' });
  });
});

describe('WebPubSubJsonV1IntegrationTests', () => {
  it('WebPubSubJsonV1IntegrationTests.JsonClientsJoinPublishAndLeaveGroup', async () => {
    const a = await json('jg1', { userId: 'alice', roles: ALL_ROLES });
    const b = await json('jg1', { userId: 'bob', roles: ALL_ROLES });
    a.socket.sendJson({ type: 'joinGroup', group: 'room', ackId: 1 });
    expect(await a.socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    b.socket.sendJson({
      type: 'sendToGroup',
      group: 'room',
      ackId: 1,
      dataType: 'text',
      data: 'hi',
      ttlSeconds: 300,
    });
    expect(await b.socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    expect(await a.socket.nextJson()).toEqual({
      type: 'message',
      from: 'group',
      group: 'room',
      fromUserId: 'bob',
      dataType: 'text',
      data: 'hi',
    });
    a.socket.sendJson({ type: 'leaveGroup', group: 'room', ackId: 2 });
    expect(await a.socket.nextJson()).toEqual({ type: 'ack', ackId: 2, success: true });
    b.socket.sendJson({ type: 'sendToGroup', group: 'room', ackId: 2, dataType: 'text', data: 'gone' });
    expect(await b.socket.nextJson()).toMatchObject({ type: 'ack', ackId: 2, success: true });
    await serviceClient(emulator, 'jg1').sendToConnection(a.id, 'sentinel', { contentType: 'text/plain' });
    expect(await a.socket.nextJson()).toMatchObject({ from: 'server', data: 'sentinel' });
  });

  it('WebPubSubJsonV1IntegrationTests.JsonGroupMessagesPreserveDataTypesMetadataAndNoEcho (data types and noEcho)', async () => {
    const sender = await json('jg2', { userId: 's', roles: ALL_ROLES, groups: ['g'] });
    const receiver = await json('jg2', { userId: 'r', groups: ['g'] });
    sender.socket.sendJson({
      type: 'sendToGroup',
      group: 'g',
      dataType: 'binary',
      data: 'AAH/',
      noEcho: true,
    });
    expect(await receiver.socket.nextJson()).toMatchObject({ dataType: 'binary', data: 'AAH/' });
    sender.socket.sendJson({
      type: 'sendToGroup',
      group: 'g',
      dataType: 'json',
      data: { a: [1, 'é'] },
      noEcho: true,
    });
    expect(await receiver.socket.nextJson()).toMatchObject({ dataType: 'json', data: { a: [1, 'é'] } });
    sender.socket.sendJson({ type: 'sendToGroup', group: 'g', data: 'json by default' });
    expect(await receiver.socket.nextJson()).toMatchObject({ dataType: 'json', data: 'json by default' });
    // Without noEcho the sender gets its own message, which is also the first it gets at all.
    expect(await sender.socket.nextJson()).toMatchObject({
      dataType: 'json',
      data: 'json by default',
      fromUserId: 's',
    });
  });

  it('WebPubSubJsonV1IntegrationTests.SequenceAckIsAcceptedWithoutEnablingReliableDelivery', async () => {
    const { socket, id } = await json('seq1');
    socket.sendJson({ type: 'sequenceAck', sequenceId: 5 });
    await roundTrip(socket);
    await serviceClient(emulator, 'seq1').sendToConnection(id, { n: 1 });
    expect(await socket.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'json',
      data: { n: 1 },
    });
  });

  it('WebPubSubJsonV1IntegrationTests.ReliableReconnectReplaysUnacknowledgedMessagesAndPreservesGroups', async () => {
    const service = serviceClient(emulator, 'rr1');
    const first = await json('rr1', { groups: ['g'] }, RELIABLE);
    await service.group('g').sendToAll('one', { contentType: 'text/plain' });
    expect(await first.socket.nextJson()).toMatchObject({ data: 'one', sequenceId: 1 });
    await cut(first.socket);

    const second = await open(recoveryUrl(first.url, first.id, first.token), RELIABLE);
    expect(await second.nextJson()).toMatchObject({ event: 'connected', connectionId: first.id });
    expect(await second.nextJson()).toMatchObject({ data: 'one', sequenceId: 1 });
    second.sendJson({ type: 'sequenceAck', sequenceId: 1 });
    await roundTrip(second);
    await service.group('g').sendToAll('two', { contentType: 'text/plain' });
    expect(await second.nextJson()).toMatchObject({ data: 'two', sequenceId: 2 });
    await cut(second);

    const third = await open(recoveryUrl(first.url, first.id, first.token), RELIABLE);
    expect(await third.nextJson()).toMatchObject({ event: 'connected', connectionId: first.id });
    expect(await third.nextJson()).toMatchObject({ data: 'two', sequenceId: 2 });
  });

  it('WebPubSubJsonV1IntegrationTests.JsonAckReportsForbiddenAndDuplicateRequests', async () => {
    const plain = await json('ack1');
    plain.socket.sendJson({ type: 'joinGroup', group: 'room', ackId: 1 });
    expect(await plain.socket.nextJson()).toEqual({
      type: 'ack',
      ackId: 1,
      success: false,
      error: { name: 'Forbidden', message: "The client does not have permission to join group 'room'." },
    });
    const allowed = await json('ack1', { roles: ['webpubsub.joinLeaveGroup.room'] });
    allowed.socket.sendJson({ type: 'joinGroup', group: 'room', ackId: 1 });
    expect(await allowed.socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    allowed.socket.sendJson({ type: 'joinGroup', group: 'room', ackId: 1 });
    expect(await allowed.socket.nextJson()).toEqual({
      type: 'ack',
      ackId: 1,
      success: false,
      error: { name: 'Duplicate', message: 'Message with ack-id: 1 has been processed' },
    });
  });

  it('WebPubSubJsonV1IntegrationTests.EventFailureWithAckReturnsErrorAndKeepsConnectionOpen', async () => {
    // Hub without any handler: the event fails, the connection stays, a retry is not a duplicate.
    const { socket } = await json('evf1');
    const failed = {
      type: 'ack',
      ackId: 7,
      success: false,
      error: { name: 'InternalServerError', message: 'Internal server error' },
    };
    socket.sendJson({ type: 'event', event: 'e', ackId: 7, dataType: 'text', data: 'x' });
    expect(await socket.nextJson()).toEqual(failed);
    socket.sendJson({ type: 'event', event: 'e', ackId: 7, dataType: 'text', data: 'x' });
    expect(await socket.nextJson()).toEqual(failed);
    await roundTrip(socket);
  });

  it('WebPubSubJsonV1IntegrationTests.EventHandlerResponsePrecedesSuccessAck', async () => {
    webhook.responder = (request) =>
      request.headers['ce-type'] === 'azure.webpubsub.user.echo'
        ? { status: 200, headers: { 'Content-Type': 'application/json' }, body: request.body }
        : undefined;
    const { socket } = await json('events');
    socket.sendJson({ type: 'event', event: 'echo', ackId: 3, dataType: 'json', data: { q: 1 } });
    expect(await socket.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'json',
      data: { q: 1 },
    });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 3, success: true });
  });

  it('WebPubSubJsonV1IntegrationTests.InvalidMessageTtlClosesJsonConnection', async () => {
    const { socket } = await json('ttl1', { roles: ALL_ROLES });
    socket.sendJson({ type: 'sendToGroup', group: 'g', dataType: 'text', data: 'x', ttlSeconds: 301 });
    expect(await socket.nextJson()).toMatchObject({ type: 'system', event: 'disconnected' });
    expect((await socket.closed).code).toBe(1007);
  });

  it('WebPubSubJsonV1IntegrationTests.LongInvalidTypeClosesJsonConnectionGracefully', async () => {
    const { socket } = await json('type1');
    socket.sendJson({ type: 'x'.repeat(1024) });
    const disconnected = await socket.nextJson();
    expect(disconnected).toMatchObject({ type: 'system', event: 'disconnected' });
    expect((disconnected.message as string).length).toBeLessThan(200);
    const closed = await socket.closed;
    expect(closed).toEqual({ code: 1007, reason: 'not a valid JSON protocol message' });
  });

  it('WebPubSubJsonV1IntegrationTests.ValidEventNamesReachLifetimeHandler', async () => {
    webhook.responder = () => undefined;
    const { socket } = await json('events');
    const names = ['a', 'A1', 'order.created', 'x-y_z.9'];
    names.forEach((event, index) =>
      socket.sendJson({ type: 'event', event, ackId: index + 1, dataType: 'text', data: event }),
    );
    for (let i = 1; i <= names.length; i++)
      expect(await socket.nextJson()).toMatchObject({ type: 'ack', ackId: i, success: true });
    const seen = webhook.events().map((request) => request.headers['ce-type']);
    for (const name of names) expect(seen).toContain(`azure.webpubsub.user.${name}`);
  });

  it('WebPubSubJsonV1IntegrationTests.EventNameLengthMatchesProductionBoundary', async () => {
    const { socket } = await json('events');
    socket.sendJson({ type: 'event', event: `e${'x'.repeat(127)}`, ackId: 1, dataType: 'text', data: '' });
    expect(await socket.nextJson()).toMatchObject({ type: 'ack', ackId: 1, success: true });
    socket.sendJson({ type: 'event', event: `e${'x'.repeat(128)}`, ackId: 2, dataType: 'text', data: '' });
    expect((await socket.closed).code).toBe(1007);
  });

  it('WebPubSubJsonV1IntegrationTests.InvalidEventNamesCloseJsonConnection', async () => {
    for (const event of ['1abc', 'a b', '', 'é']) {
      const { socket } = await json('events');
      socket.sendJson({ type: 'event', event, dataType: 'text', data: '' });
      expect((await socket.closed).code).toBe(1007);
    }
  });
});

describe('WebPubSubEmulatorTests', () => {
  it('WebPubSubEmulatorTests.FragmentedMessage_AfterEndOfMessage_IsParsed', async () => {
    const { socket } = await json('frag1', { roles: ALL_ROLES });
    const text = JSON.stringify({ type: 'joinGroup', group: 'g', ackId: 9 });
    socket.ws.send(text.slice(0, 10), { fin: false });
    socket.ws.send(text.slice(10), { fin: true });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 9, success: true });
  });

  it('WebPubSubEmulatorTests.JsonSubprotocol_WithoutRole_ReturnsForbiddenAck', async () => {
    const { socket } = await json('role1');
    socket.sendJson({ type: 'sendToGroup', group: 'g', ackId: 1, dataType: 'text', data: 'x' });
    expect(await socket.nextJson()).toEqual({
      type: 'ack',
      ackId: 1,
      success: false,
      error: { name: 'Forbidden', message: "The client does not have permission to send to group 'g'." },
    });
    socket.sendJson({ type: 'leaveGroup', group: 'g', ackId: 2 });
    expect(await socket.nextJson()).toMatchObject({
      ackId: 2,
      error: { name: 'Forbidden', message: "The client does not have permission to leave group 'g'." },
    });
  });

  it('WebPubSubEmulatorTests.WildcardRole_AllowsSendToMatchingGroup', async () => {
    const receiver = await json('role2', { groups: ['room.a', 'room.a.b'] });
    const { socket } = await json('role2', { roles: ['webpubsub.sendToGroups.room.*'] });
    socket.sendJson({ type: 'sendToGroup', group: 'room.a', ackId: 1, dataType: 'text', data: 'ok' });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    expect(await receiver.socket.nextJson()).toMatchObject({ group: 'room.a', data: 'ok' });
    socket.sendJson({ type: 'sendToGroup', group: 'room.a.b', ackId: 2, dataType: 'text', data: 'no' });
    expect(await socket.nextJson()).toMatchObject({ ackId: 2, success: false, error: { name: 'Forbidden' } });
  });

  it('WebPubSubEmulatorTests.WildcardRole_AllowsJoinAndLeaveMatchingGroup', async () => {
    const { socket } = await json('role3', { roles: ['webpubsub.joinLeaveGroups.team-??'] });
    socket.sendJson({ type: 'joinGroup', group: 'team-01', ackId: 1 });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    socket.sendJson({ type: 'leaveGroup', group: 'team-01', ackId: 2 });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 2, success: true });
    socket.sendJson({ type: 'joinGroup', group: 'team-1', ackId: 3 });
    expect(await socket.nextJson()).toMatchObject({ ackId: 3, success: false, error: { name: 'Forbidden' } });
  });

  it('WebPubSubEmulatorTests.JsonSubprotocol_NoEcho_DoesNotEchoToSender', async () => {
    const { socket, id } = await json('echo1', { roles: ALL_ROLES, groups: ['g'] });
    socket.sendJson({
      type: 'sendToGroup',
      group: 'g',
      ackId: 1,
      noEcho: true,
      dataType: 'text',
      data: 'quiet',
    });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    await serviceClient(emulator, 'echo1').sendToConnection(id, 'sentinel', { contentType: 'text/plain' });
    expect(await socket.nextJson()).toMatchObject({ from: 'server', data: 'sentinel' });
  });

  it('WebPubSubEmulatorTests.ReliableSubprotocol_DuplicateAckId_DoesNotExecuteMessageAgain', async () => {
    const receiver = await json('dup1', { groups: ['g'] }, RELIABLE);
    const sender = await json('dup1', { roles: ALL_ROLES }, RELIABLE);
    const message = { type: 'sendToGroup', group: 'g', ackId: 5, dataType: 'text', data: 'once' };
    sender.socket.sendJson(message);
    expect(await sender.socket.nextJson()).toEqual({ type: 'ack', ackId: 5, success: true });
    sender.socket.sendJson(message);
    expect(await sender.socket.nextJson()).toMatchObject({
      ackId: 5,
      success: false,
      error: { name: 'Duplicate' },
    });
    expect(await receiver.socket.nextJson()).toMatchObject({ data: 'once', sequenceId: 1 });
    await serviceClient(emulator, 'dup1').sendToConnection(receiver.id, 'sentinel', {
      contentType: 'text/plain',
    });
    expect(await receiver.socket.nextJson()).toMatchObject({ data: 'sentinel', sequenceId: 2 });
  });

  it('WebPubSubEmulatorTests.WithoutEventHandler_ClientPubSubIsUnaffectedByUserEventFailure', async () => {
    const { socket } = await json('noh1', { roles: ALL_ROLES, groups: ['g'] });
    socket.sendJson({ type: 'event', event: 'e', ackId: 1, dataType: 'text', data: 'x' });
    expect(await socket.nextJson()).toMatchObject({
      ackId: 1,
      success: false,
      error: { name: 'InternalServerError' },
    });
    socket.sendJson({ type: 'sendToGroup', group: 'g', ackId: 2, dataType: 'text', data: 'still here' });
    const messages = [await socket.nextJson(), await socket.nextJson()];
    expect(messages).toContainEqual({ type: 'ack', ackId: 2, success: true });
    expect(messages).toContainEqual(expect.objectContaining({ group: 'g', data: 'still here' }));
  });

  it('WebPubSubEmulatorTests.ReliableReconnect_WithUnacknowledgedMessage_ReplaysMessage', async () => {
    const first = await json('rr2', {}, RELIABLE);
    await serviceClient(emulator, 'rr2').sendToConnection(first.id, { keep: true });
    expect(await first.socket.nextJson()).toMatchObject({ data: { keep: true }, sequenceId: 1 });
    await cut(first.socket);
    const again = await open(recoveryUrl(first.url, first.id, first.token), RELIABLE);
    expect(await again.nextJson()).toMatchObject({ event: 'connected' });
    expect(await again.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'json',
      data: { keep: true },
      sequenceId: 1,
    });
  });

  it('WebPubSubEmulatorTests.ReliableReconnect_WithInvalidToken_ClosesWithPolicyViolation', async () => {
    const first = await json('rr3', {}, RELIABLE);
    await cut(first.socket);
    const again = await open(recoveryUrl(first.url, first.id, `${first.token as string}x`), RELIABLE);
    expect((await again.closed).code).toBe(1008);
    // The right token still works afterwards: a failed attempt does not end the session.
    const right = await open(recoveryUrl(first.url, first.id, first.token), RELIABLE);
    expect(await right.nextJson()).toMatchObject({ event: 'connected', connectionId: first.id });
  });

  it('WebPubSubEmulatorTests.ReliableBuffer_WhenReceiverStopsReading_DoesNotDisconnectSender', async () => {
    const receiver = await json('buf1', { groups: ['g'] }, RELIABLE, small);
    const sender = await json('buf1', { roles: ALL_ROLES }, JSON_V1, small);
    // The receiver never acknowledges; the sixth message overflows its replay buffer of five.
    for (let ackId = 1; ackId <= 8; ackId++) {
      sender.socket.sendJson({ type: 'sendToGroup', group: 'g', ackId, dataType: 'text', data: `m${ackId}` });
      expect(await sender.socket.nextJson()).toEqual({ type: 'ack', ackId, success: true });
    }
    expect((await receiver.socket.closed).code).toBe(1008);
    await roundTrip(sender.socket);
  });

  it('WebPubSubEmulatorTests.ReliableBuffer_WhenDetachedBufferFills_RemovesLogicalConnection', async () => {
    const service = serviceClient(small, 'buf2');
    const first = await json('buf2', {}, RELIABLE, small);
    await cut(first.socket);
    for (let i = 0; i < 5; i++)
      await service.sendToConnection(first.id, `m${i}`, { contentType: 'text/plain' });
    expect(await service.connectionExists(first.id)).toBe(true);
    await service.sendToConnection(first.id, 'overflow', { contentType: 'text/plain' });
    expect(await service.connectionExists(first.id)).toBe(false);
    const again = await open(recoveryUrl(first.url, first.id, first.token), RELIABLE);
    expect((await again.closed).code).toBe(1008);
  });

  it('WebPubSubEmulatorTests.ReliableBuffer_WhenUnacknowledgedBytesExceedLimit_ClosesReceiver', async () => {
    const { socket, id } = await json('buf3', {}, RELIABLE, small);
    await serviceClient(small, 'buf3').sendToConnection(id, 'y'.repeat(5000), { contentType: 'text/plain' });
    expect(await socket.nextJson()).toEqual({
      type: 'system',
      event: 'disconnected',
      message: 'The reliable message buffer is full.',
    });
    expect(await socket.closed).toEqual({ code: 1008, reason: 'reliable message buffer is full' });
  });
});

describe('more of the client protocol', () => {
  it('answers ping with pong', async () => {
    const { socket } = await json('ping1');
    socket.sendJson({ type: 'ping' });
    expect(await socket.nextJson()).toEqual({ type: 'pong' });
  });

  it('drops a client that stops reading once its outbound queue is full, and keeps serving the others', async () => {
    const service = serviceClient(small, 'slow1');
    const reader = await json('slow1', {}, JSON_V1, small);
    const stalled = await json('slow1', {}, JSON_V1, small);
    stalled.socket.ws.pause();
    // 64 KiB messages fill the socket buffers quickly; the emulator must give up on the stalled client.
    const big = 'z'.repeat(64 * 1024);
    let sent = 0;
    while ((await service.connectionExists(stalled.id)) && sent < 2000) {
      await service.sendToAll(big, { contentType: 'text/plain' });
      sent++;
      expect(await reader.socket.nextJson()).toMatchObject({ data: big });
    }
    expect(await service.connectionExists(stalled.id)).toBe(false);
    expect(await service.connectionExists(reader.id)).toBe(true);
  });

  it('ends a reliable session when the client says goodbye, and a plain one when its socket drops', async () => {
    const service = serviceClient(emulator, 'events');
    const goodbye = await json('events', {}, RELIABLE);
    await goodbye.socket.close();
    await webhook.waitFor(
      (r) =>
        r.headers['ce-type'] === 'azure.webpubsub.sys.disconnected' &&
        r.headers['ce-connectionid'] === goodbye.id,
    );
    expect(await service.connectionExists(goodbye.id)).toBe(false);
    const plain = await json('events');
    await cut(plain.socket);
    await webhook.waitFor(
      (r) =>
        r.headers['ce-type'] === 'azure.webpubsub.sys.disconnected' &&
        r.headers['ce-connectionid'] === plain.id,
    );
    expect(await service.connectionExists(plain.id)).toBe(false);
  });
});
