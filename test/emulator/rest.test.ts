import type { RestError } from '@azure/core-rest-pipeline';
import { odata } from '@azure/web-pubsub';
import type { Emulator } from '../../emulator';
import {
  clientUrl,
  restRequest,
  serviceClient,
  signToken,
  startEmulator,
  TEST_KEY,
  TestSocket,
} from './helpers';

/**
 * The REST data plane (catalogue 8.3: RestApiTests, RestApi_*), driven by the official @azure/web-pubsub
 * wherever it can express the call (it accepts only each operation's exact success status) and by hand
 * for what it cannot send. Recipients are raw `ws` clients so every delivered frame is visible; a
 * "sentinel" sent last proves that nothing else was delivered before it.
 */
const JSON_V1 = 'json.webpubsub.azure.v1';
const RELIABLE = 'json.reliable.webpubsub.azure.v1';
const SECONDARY_KEY = 'secondary-key-abcdefghijklmnopqrstuvwxyz-0123456789';

let emulator: Emulator;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ secondaryAccessKey: SECONDARY_KEY });
});

afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await emulator.close();
});

interface Client {
  socket: TestSocket;
  id: string;
  url: string;
  token: string | undefined;
}

async function connect(
  hub: string,
  options: { userId?: string; roles?: string[]; groups?: string[] } = {},
  protocol: string = JSON_V1,
): Promise<Client> {
  const url = await clientUrl(emulator, hub, options);
  // 'raw': a simple WebSocket client, no subprotocol and no connected message.
  const socket = await TestSocket.open(url, protocol === 'raw' ? undefined : protocol);
  sockets.push(socket);
  if (protocol === 'raw') return { socket, id: '', url, token: undefined };
  const connected = await socket.nextJson();
  return {
    socket,
    id: connected.connectionId as string,
    url,
    token: connected.reconnectionToken as string | undefined,
  };
}

async function cut(client: Client): Promise<void> {
  client.socket.ws.terminate();
  await client.socket.closed;
}

async function recover(client: Client): Promise<TestSocket> {
  const url = `${client.url}&awps_connection_id=${client.id}&awps_reconnection_token=${encodeURIComponent(client.token as string)}`;
  const socket = await TestSocket.open(url, RELIABLE);
  sockets.push(socket);
  return socket;
}

/** Sends a marker to one connection and expects it to be the very next frame that connection gets. */
async function expectNothingBefore(hub: string, client: Client): Promise<void> {
  await serviceClient(emulator, hub).sendToConnection(client.id, 'sentinel', { contentType: 'text/plain' });
  expect(await client.socket.nextJson()).toMatchObject({ from: 'server', data: 'sentinel' });
}

async function failure(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (error) {
    return error as RestError;
  }
  throw new Error('the call succeeded');
}

describe('RestApiTests', () => {
  it('RestApiTests.OfficialServerSdkCanCheckAndSendToConnection', async () => {
    const service = serviceClient(emulator, 'conn1');
    const client = await connect('conn1');
    expect(await service.connectionExists(client.id)).toBe(true);
    await service.sendToConnection(client.id, 'plain text', { contentType: 'text/plain' });
    expect(await client.socket.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'text',
      data: 'plain text',
    });
    await service.sendToConnection(client.id, { a: 1 });
    expect(await client.socket.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'json',
      data: { a: 1 },
    });
    await service.sendToConnection('missing', 'x', { contentType: 'text/plain' });
    await service.closeConnection(client.id, { reason: 'done' });
    expect(await client.socket.nextJson()).toEqual({
      type: 'system',
      event: 'disconnected',
      message: 'Application server closed the connection. Reason: done',
    });
    expect(await client.socket.closed).toEqual({ code: 1000, reason: '' });
    expect(await service.connectionExists(client.id)).toBe(false);
  });

  it('RestApiTests.OfficialServerSdkCanManageConnectionGroupMembership', async () => {
    const service = serviceClient(emulator, 'member1');
    const client = await connect('member1');
    await service.group('g').addConnection(client.id);
    await service.group('g').sendToAll('in', { contentType: 'text/plain' });
    expect(await client.socket.nextJson()).toMatchObject({ from: 'group', group: 'g', data: 'in' });
    await service.group('g').removeConnection(client.id);
    await service.group('g').sendToAll('out', { contentType: 'text/plain' });
    await expectNothingBefore('member1', client);
    await service.group('g').removeConnection('missing');
    const error = await failure(service.group('g').addConnection('missing'));
    expect(error.statusCode).toBe(404);
    const raw = await restRequest(
      emulator,
      'PUT',
      '/api/hubs/member1/groups/g/connections/missing?api-version=2024-12-01',
    );
    expect(raw.status).toBe(404);
    expect(raw.headers.get('x-ms-error-code')).toBe('Error.Connection.NotExisted');
    expect(await raw.json()).toEqual({
      code: 'Error.Connection.NotExisted',
      message: 'Connection `missing` is not found.',
      target: 'Connection',
    });
  });

  it('RestApiTests.OfficialServerSdkCanSendToAllWithFilterAndExclusions', async () => {
    const service = serviceClient(emulator, 'filter1');
    const clients = [];
    for (const userId of ['u1', 'u2', 'u3', 'u4']) clients.push(await connect('filter1', { userId }));
    const [c1, c2, c3, c4] = clients as [Client, Client, Client, Client];
    await service.sendToAll('chosen', {
      contentType: 'text/plain',
      filter: odata`userId in (${'u1'}, ${'u2'}, ${'u3'})`,
      excludedConnections: [c2.id, c3.id],
    } as never);
    expect(await c1.socket.nextJson()).toMatchObject({ data: 'chosen' });
    for (const other of [c2, c3, c4]) await expectNothingBefore('filter1', other);
    await serviceClient(emulator, 'emptyhub').sendToAll('nobody listens');
  });

  it('RestApiTests.SendToAllPreservesRawBinaryPayload', async () => {
    const raw = await connect('RawBin', {}, 'raw');
    await serviceClient(emulator, 'RAWBIN').sendToAll(new Uint8Array([0, 1, 255, 128]));
    const frame = await raw.socket.next();
    expect(frame.isBinary).toBe(true);
    expect([...frame.data]).toEqual([0, 1, 255, 128]);
    await serviceClient(emulator, 'rawbin').sendToAll({ json: 'as text' });
    expect(await raw.socket.next()).toEqual({ data: Buffer.from('{"json":"as text"}'), isBinary: false });
  });

  it('RestApiTests.SendToAll/User/GroupQueuesForFilteredDetachedReliableConnection', async () => {
    const service = serviceClient(emulator, 'detach1');
    const client = await connect('detach1', { userId: 'ru', groups: ['g'] }, RELIABLE);
    await cut(client);
    await service.sendToAll('all', { contentType: 'text/plain', filter: "userId eq 'ru'" });
    await service.sendToUser('ru', 'user', { contentType: 'text/plain', filter: "'g' in groups" });
    await service.group('g').sendToAll('group', { contentType: 'text/plain', filter: "userId ne 'other'" });
    const socket = await recover(client);
    expect(await socket.nextJson()).toMatchObject({ event: 'connected', connectionId: client.id });
    expect(await socket.nextJson()).toMatchObject({ from: 'server', data: 'all', sequenceId: 1 });
    expect(await socket.nextJson()).toMatchObject({ from: 'server', data: 'user', sequenceId: 2 });
    expect(await socket.nextJson()).toMatchObject({
      from: 'group',
      group: 'g',
      data: 'group',
      sequenceId: 3,
    });
  });

  it('RestApiTests.SendRejectsInvalidFilterBeforeReadingBody', async () => {
    const client = await connect('filter2', { userId: 'u' });
    const response = await restRequest(
      emulator,
      'POST',
      `/api/hubs/filter2/:send?api-version=2024-12-01&filter=${encodeURIComponent('userId eq')}`,
      {
        body: 'x'.repeat(2 * 1024 * 1024),
        contentType: 'text/plain',
      },
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe('Error.BadRequest');
    expect(body.message).toMatch(/^Invalid filter: /);
    for (const path of ['users/u/:send', 'groups/g/:send']) {
      const bad = await restRequest(emulator, 'POST', `/api/hubs/filter2/${path}?filter=userId%20eq%20`, {
        body: 'x',
        contentType: 'text/plain',
      });
      expect(bad.status).toBe(400);
    }
    await expectNothingBefore('filter2', client);
  });

  it('RestApiTests.OfficialServerSdkCanCheckAndSendToUser', async () => {
    const service = serviceClient(emulator, 'user1');
    const a1 = await connect('user1', { userId: 'Alice' });
    const a2 = await connect('user1', { userId: 'Alice' });
    const lower = await connect('user1', { userId: 'alice' });
    expect(await service.userExists('Alice')).toBe(true);
    expect(await service.userExists('ALICE')).toBe(false);
    await service.sendToUser('Alice', 'to Alice', { contentType: 'text/plain' });
    expect(await a1.socket.nextJson()).toMatchObject({ data: 'to Alice' });
    expect(await a2.socket.nextJson()).toMatchObject({ data: 'to Alice' });
    await expectNothingBefore('user1', lower);
    await service.sendToUser('nobody', 'x', { contentType: 'text/plain' });
  });

  it('RestApiTests.OfficialServerSdkCanManageUserGroupMembership', async () => {
    const service = serviceClient(emulator, 'user2');
    const a1 = await connect('user2', { userId: 'u' });
    const a2 = await connect('user2', { userId: 'u' });
    await service.group('g').addUser('u');
    await service.group('g').sendToAll('both', { contentType: 'text/plain' });
    expect(await a1.socket.nextJson()).toMatchObject({ group: 'g', data: 'both' });
    expect(await a2.socket.nextJson()).toMatchObject({ group: 'g', data: 'both' });
    await service.group('g').removeUser('u');
    expect(await service.groupExists('g')).toBe(false);
    await service.group('h').addUser('u');
    await service.removeUserFromAllGroups('u');
    expect(await service.groupExists('h')).toBe(false);
    await service.group('g').removeUser('nobody');
    await service.removeUserFromAllGroups('nobody');
    expect((await failure(service.group('g').addUser('nobody'))).statusCode).toBe(404);
  });

  it('RestApiTests.UserExists/GroupExistsMissingResponseUsesServiceErrorCode', async () => {
    const user = await restRequest(
      emulator,
      'HEAD',
      '/api/hubs/missing1/users/nobody?api-version=2024-12-01',
    );
    expect(user.status).toBe(404);
    expect(user.headers.get('x-ms-error-code')).toBe('Warning.User.NotExisted');
    const group = await restRequest(
      emulator,
      'HEAD',
      '/api/hubs/missing1/groups/nothing?api-version=2024-12-01',
    );
    expect(group.status).toBe(404);
    expect(group.headers.get('x-ms-error-code')).toBe('Warning.Group.NotExisted');
  });

  it('RestApiTests.OfficialServerSdkCanCheckAndSendToGroup', async () => {
    const service = serviceClient(emulator, 'group1');
    expect(await service.groupExists('Room')).toBe(false);
    const member = await connect('group1', { roles: ['webpubsub.joinLeaveGroup'] });
    member.socket.sendJson({ type: 'joinGroup', group: 'Room', ackId: 1 });
    expect(await member.socket.nextJson()).toMatchObject({ ackId: 1, success: true });
    expect(await service.groupExists('Room')).toBe(true);
    expect(await service.groupExists('room')).toBe(false);
    await service.group('Room').sendToAll({ to: 'Room' });
    expect(await member.socket.nextJson()).toEqual({
      type: 'message',
      from: 'group',
      group: 'Room',
      dataType: 'json',
      data: { to: 'Room' },
    });
    member.socket.sendJson({ type: 'leaveGroup', group: 'Room', ackId: 2 });
    expect(await member.socket.nextJson()).toMatchObject({ ackId: 2, success: true });
    expect(await service.groupExists('Room')).toBe(false);
  });

  it('RestApiTests.SendToGroupAppliesFilterAndExclusions', async () => {
    const service = serviceClient(emulator, 'group2');
    const a = await connect('group2', { userId: 'a', groups: ['g'] });
    const b = await connect('group2', { userId: 'b', groups: ['g'] });
    const c = await connect('group2', { userId: 'c', groups: ['g'] });
    const outside = await connect('group2', { userId: 'a' });
    await service.group('g').sendToAll('picked', {
      contentType: 'text/plain',
      filter: "userId ne 'c'",
      excludedConnections: [b.id],
    } as never);
    expect(await a.socket.nextJson()).toMatchObject({ group: 'g', data: 'picked' });
    for (const other of [b, c, outside]) await expectNothingBefore('group2', other);
  });

  it('RestApiTests.ConnectionExistsAndSendToConnectionUseLiveConnection', async () => {
    const service = serviceClient(emulator, 'live1');
    const client = await connect('live1');
    expect(await service.connectionExists(client.id)).toBe(true);
    await service.sendToConnection(client.id, new Uint8Array([104, 105]));
    expect(await client.socket.nextJson()).toEqual({
      type: 'message',
      from: 'server',
      dataType: 'binary',
      data: 'aGk=',
    });
    await service.closeConnection(client.id);
    expect(await service.connectionExists(client.id)).toBe(false);
  });

  it('RestApiTests.DirectSendToDetachedReliableConnectionReplaysInOrder', async () => {
    const service = serviceClient(emulator, 'detach2');
    const client = await connect('detach2', {}, RELIABLE);
    await cut(client);
    for (const text of ['first', 'second', 'third'])
      await service.sendToConnection(client.id, text, { contentType: 'text/plain' });
    const socket = await recover(client);
    await socket.nextJson();
    for (const [index, text] of ['first', 'second', 'third'].entries()) {
      expect(await socket.nextJson()).toEqual({
        type: 'message',
        from: 'server',
        dataType: 'text',
        data: text,
        sequenceId: index + 1,
      });
    }
  });

  it('RestApiTests.CloseDetachedReliableConnectionPreventsRecovery', async () => {
    const service = serviceClient(emulator, 'detach3');
    const client = await connect('detach3', {}, RELIABLE);
    await cut(client);
    await service.closeConnection(client.id);
    expect(await service.connectionExists(client.id)).toBe(false);
    expect((await (await recover(client)).closed).code).toBe(1008);
  });

  it('RestApiTests.MissingConnectionHasServiceCompatibleStatuses / CloseMissingConnectionReturnsNoContent', async () => {
    const base = '/api/hubs/missing2/connections/nobody';
    expect((await restRequest(emulator, 'HEAD', `${base}?api-version=2024-12-01`)).status).toBe(404);
    expect(
      (
        await restRequest(emulator, 'POST', `${base}/:send?api-version=2024-12-01`, {
          body: 'x',
          contentType: 'text/plain',
        })
      ).status,
    ).toBe(202);
    expect((await restRequest(emulator, 'DELETE', `${base}?api-version=2024-12-01&reason=gone`)).status).toBe(
      204,
    );
    expect((await restRequest(emulator, 'DELETE', `${base}/groups?api-version=2024-12-01`)).status).toBe(204);
  });

  it('RestApiTests.CloseConnectionSendsDisconnectedMessageWithReason', async () => {
    const client = await connect('close1');
    const reason = `r${'é'.repeat(199)}`;
    await serviceClient(emulator, 'close1').closeConnection(client.id, { reason });
    expect(await client.socket.nextJson()).toEqual({
      type: 'system',
      event: 'disconnected',
      message: `Application server closed the connection. Reason: ${reason}`,
    });
    // Long reasons travel in the JSON message only: a close frame's reason is limited to 123 bytes.
    expect(await client.socket.closed).toEqual({ code: 1000, reason: '' });
  });

  it('RestApiTests.RestOperationsRequireRequestScopedBearerToken / RestApi_WithoutBearerToken_IsUnauthorized (every route)', async () => {
    const routes: [string, string][] = [
      ['POST', ':send'],
      ['POST', ':closeConnections'],
      ['POST', ':generateToken'],
      ['POST', ':addToGroups'],
      ['POST', ':removeFromGroups'],
      ['POST', 'connections/c/:send'],
      ['DELETE', 'connections/c'],
      ['HEAD', 'connections/c'],
      ['DELETE', 'connections/c/groups'],
      ['HEAD', 'groups/g'],
      ['POST', 'groups/g/:send'],
      ['POST', 'groups/g/:closeConnections'],
      ['GET', 'groups/g/connections'],
      ['PUT', 'groups/g/connections/c'],
      ['DELETE', 'groups/g/connections/c'],
      ['PUT', 'permissions/sendToGroup/connections/c'],
      ['DELETE', 'permissions/sendToGroup/connections/c'],
      ['HEAD', 'permissions/sendToGroup/connections/c'],
      ['HEAD', 'users/u'],
      ['POST', 'users/u/:send'],
      ['POST', 'users/u/:closeConnections'],
      ['DELETE', 'users/u/groups'],
      ['PUT', 'users/u/groups/g'],
      ['DELETE', 'users/u/groups/g'],
    ];
    for (const [method, path] of routes) {
      const target = `/api/hubs/auth1/${path}?api-version=2024-12-01`;
      const missing = await restRequest(emulator, method, target, { token: null });
      expect([method, path, missing.status]).toEqual([method, path, 401]);
      const elsewhere = await restRequest(emulator, method, target, {
        audience: `${emulator.endpoint}/api/hubs/auth1/other`,
      });
      expect([method, path, elsewhere.status]).toEqual([method, path, 401]);
    }
    const body = await restRequest(emulator, 'POST', '/api/hubs/auth1/:send', {
      token: null,
      body: 'x',
      contentType: 'text/plain',
    });
    expect(body.headers.get('x-ms-error-code')).toBe('Error.Unauthorized');
  });

  it('RestApiTests.RestTokenAudienceCanOmitQueryString', async () => {
    const target = '/api/hubs/auth2/:send?api-version=2024-12-01&excluded=x';
    const response = await restRequest(emulator, 'POST', target, {
      audience: `${emulator.endpoint}/api/hubs/auth2/:send`,
      body: 'x',
      contentType: 'text/plain',
    });
    expect(response.status).toBe(202);
  });

  it('RestApiTests.Authentication.MatchesSchemesAndResourceBoundaries', async () => {
    const path = '/api/hubs/auth3/connections/c';
    const host = `localhost:${emulator.port}`;
    for (const scheme of ['https', 'ws', 'wss', 'HTTP']) {
      expect(
        (await restRequest(emulator, 'HEAD', path, { audience: `${scheme}://${host}${path}` })).status,
      ).toBe(404);
    }
    for (const audience of [
      `http://${host}${path}/extra`,
      `http://${host}${path}x`,
      `http://other:${emulator.port}${path}`,
      `http://${host}/api/hubs/auth3`,
    ]) {
      expect((await restRequest(emulator, 'HEAD', path, { audience })).status).toBe(401);
    }
  });

  it('RestApiTests.Authentication.RestAudienceUsesPartiallyDecodedPath', async () => {
    const encoded = '/api/hubs/auth4/users/a%20b%2Fc';
    const decoded = `${emulator.endpoint}/api/hubs/auth4/users/a b/c`;
    expect((await restRequest(emulator, 'HEAD', encoded)).status).toBe(404);
    expect((await restRequest(emulator, 'HEAD', encoded, { audience: decoded })).status).toBe(404);
  });

  it('RestApiTests.Authentication.MatchDoesNotBypassSignatureOrLifetime / RestApi_AccessKeyTokenWithInvalidSignature_IsUnauthorized', async () => {
    const path = '/api/hubs/auth5/connections/c';
    const aud = `${emulator.endpoint}${path}`;
    const expired = await signToken({ aud }, TEST_KEY, Math.floor(Date.now() / 1000) - 3600);
    expect((await restRequest(emulator, 'HEAD', path, { token: expired })).status).toBe(401);
    const forged = await signToken({ aud }, 'wrong-key-0123456789-0123456789-0123456789');
    expect((await restRequest(emulator, 'HEAD', path, { token: forged })).status).toBe(401);
    const valid = await signToken({ aud });
    const at = valid.length - 10;
    const tampered = `${valid.slice(0, at)}${valid[at] === 'A' ? 'B' : 'A'}${valid.slice(at + 1)}`;
    expect((await restRequest(emulator, 'HEAD', path, { token: tampered })).status).toBe(401);
    // The secondary key is as good as the primary (key rotation).
    expect((await restRequest(emulator, 'HEAD', path, { key: SECONDARY_KEY })).status).toBe(404);
  });

  it('RestApiTests.AdvertisedApiVersionIsAccepted / UnsupportedApiVersionIsRejected / DuplicateApiVersionIsRejected / InvalidApiVersionDoesNotDeliverMessage', async () => {
    const client = await connect('version1');
    const send = (query: string): Promise<Response> =>
      restRequest(emulator, 'POST', `/api/hubs/version1/connections/${client.id}/:send${query}`, {
        body: 'v',
        contentType: 'text/plain',
      });
    for (const version of ['2021-10-01', '2022-11-01', '2023-07-01', '2024-01-01', '2024-12-01']) {
      expect((await send(`?api-version=${version}`)).status).toBe(202);
      expect(await client.socket.nextJson()).toMatchObject({ data: 'v' });
    }
    expect((await send('')).status).toBe(202);
    expect(await client.socket.nextJson()).toMatchObject({ data: 'v' });
    const unsupported = await send('?api-version=2099-01-01');
    expect(unsupported.status).toBe(400);
    expect(((await unsupported.json()) as { code: string }).code).toBe('Error.BadRequest');
    expect((await send('?api-version=2024-12-01&api-version=2024-12-01')).status).toBe(400);
    const close = await restRequest(
      emulator,
      'DELETE',
      `/api/hubs/version1/connections/${client.id}?api-version=1.0`,
    );
    expect(close.status).toBe(400);
    await expectNothingBefore('version1', client);
  });

  it('RestApiTests.RejectsWhitespaceGroupName / OverMaximumLength / RejectedGroupMembershipRequestsDoNotMutateConnection', async () => {
    const service = serviceClient(emulator, 'names1');
    const client = await connect('names1');
    expect((await failure(service.group('   ').addConnection(client.id))).statusCode).toBe(400);
    expect((await failure(service.group('g'.repeat(1025)).addConnection(client.id))).statusCode).toBe(400);
    await service.group('g'.repeat(1024)).addConnection(client.id);
    expect(await service.groupExists('g'.repeat(1024))).toBe(true);
    const unauthorized = await restRequest(
      emulator,
      'PUT',
      `/api/hubs/names1/groups/h/connections/${client.id}`,
      { token: null },
    );
    expect(unauthorized.status).toBe(401);
    expect(await service.groupExists('h')).toBe(false);
    expect((await failure(serviceClient(emulator, '1bad').sendToAll('x'))).statusCode).toBe(400);
  });

  it('RestApiTests.SendToConnectionValidatesContent / MalformedContentTypeDoesNotDeliverMessage / ValidationErrorsUseStructuredResponse', async () => {
    const client = await connect('content1');
    const path = `/api/hubs/content1/connections/${client.id}/:send?api-version=2024-12-01`;
    for (const contentType of ['application/xml', 'text', 'application/x-protobuf']) {
      const response = await restRequest(emulator, 'POST', path, { body: '<a/>', contentType });
      expect(response.status).toBe(415);
      expect(await response.json()).toMatchObject({ code: 'Error.UnsupportedMediaType' });
    }
    const invalid = await restRequest(emulator, 'POST', path, { body: '{', contentType: 'application/json' });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await invalid.json()).toEqual({
      code: 'Error.BadRequest',
      message: 'The request body is not a valid JSON.',
    });
    const charset = await restRequest(emulator, 'POST', path, {
      body: '"ok"',
      contentType: 'application/json; charset=utf-8',
    });
    expect(charset.status).toBe(202);
    expect(await client.socket.nextJson()).toMatchObject({ dataType: 'json', data: 'ok' });
    await expectNothingBefore('content1', client);
  });

  it('RestApiTests.SendToConnectionValidatesMessageTtl / MessageTtlIsAcceptedForImmediateDelivery', async () => {
    const service = serviceClient(emulator, 'ttl1');
    const client = await connect('ttl1');
    for (const ttl of [301, -1, 1.5]) {
      expect(
        (
          await failure(
            service.sendToConnection(client.id, 'x', { contentType: 'text/plain', messageTtlSeconds: ttl }),
          )
        ).statusCode,
      ).toBe(400);
    }
    for (const ttl of [0, 300]) {
      await service.sendToConnection(client.id, `ttl ${ttl}`, {
        contentType: 'text/plain',
        messageTtlSeconds: ttl,
      });
      expect(await client.socket.nextJson()).toMatchObject({ data: `ttl ${ttl}` });
    }
  });

  it('RestApi_MessageExceedsLimit / RestApi_MessageAtLimit', async () => {
    const client = await connect('limit1', {}, 'raw');
    const path = '/api/hubs/limit1/:send?api-version=2024-12-01';
    const atLimit = Buffer.alloc(1024 * 1024, 7);
    expect(
      (await restRequest(emulator, 'POST', path, { body: atLimit, contentType: 'application/octet-stream' }))
        .status,
    ).toBe(202);
    expect((await client.socket.next()).data.length).toBe(1024 * 1024);
    const over = await restRequest(emulator, 'POST', path, {
      body: Buffer.alloc(1024 * 1024 + 1),
      contentType: 'application/octet-stream',
    });
    expect(over.status).toBe(413);
  });

  it('RestApi_RuntimeRecording_BroadcastResponseMatches', async () => {
    const response = await restRequest(emulator, 'POST', '/api/hubs/rec1/:send?api-version=2024-12-01', {
      body: '{}',
      contentType: 'application/json',
    });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
  });

  it('RestApi_Filter_DeliversOnlyToMatchingConnection / RestApi_SubstringFilter / RestApi_InvalidFilter', async () => {
    const service = serviceClient(emulator, 'filter3');
    const alpha = await connect('filter3', { userId: 'alpha-1', groups: ['red'] });
    const beta = await connect('filter3', { userId: 'beta-2', groups: ['blue'] });
    await service.sendToAll('red only', { contentType: 'text/plain', filter: odata`${'red'} in groups` });
    expect(await alpha.socket.nextJson()).toMatchObject({ data: 'red only' });
    await service.sendToAll('beta', {
      contentType: 'text/plain',
      filter: "substring(userId, 0, 4) eq 'beta'",
    });
    expect(await beta.socket.nextJson()).toMatchObject({ data: 'beta' });
    await service.sendToAll('by id', {
      contentType: 'text/plain',
      filter: odata`connectionId eq ${alpha.id}`,
    });
    expect(await alpha.socket.nextJson()).toMatchObject({ data: 'by id' });
    expect(
      (
        await failure(
          service.sendToAll('x', { contentType: 'text/plain', filter: "userId eq 'unterminated" }),
        )
      ).statusCode,
    ).toBe(400);
    for (const client of [alpha, beta]) await expectNothingBefore('filter3', client);
  });

  it('RestApi_BulkGroupOperations_ApplyFilterToCurrentConnections / ValidateRequest / RemoveConnectionFromAllGroups_IsIdempotent', async () => {
    const service = serviceClient(emulator, 'bulk1');
    const a = await connect('bulk1', { userId: 'a' });
    const b = await connect('bulk1', { userId: 'b' });
    await service.addConnectionsToGroups(['x', 'y'], "userId eq 'a'");
    await service.group('y').sendToAll('y', { contentType: 'text/plain' });
    expect(await a.socket.nextJson()).toMatchObject({ group: 'y', data: 'y' });
    await expectNothingBefore('bulk1', b);
    await service.removeConnectionsFromGroups(['x'], "userId eq 'a'");
    expect(await service.groupExists('x')).toBe(false);
    expect(await service.groupExists('y')).toBe(true);
    // No filter: every connection of the hub.
    const everyone = await restRequest(
      emulator,
      'POST',
      '/api/hubs/bulk1/:addToGroups?api-version=2024-12-01',
      {
        body: JSON.stringify({ groups: ['all'] }),
        contentType: 'application/json',
      },
    );
    expect(everyone.status).toBe(200);
    await service.group('all').sendToAll('all', { contentType: 'text/plain' });
    expect(await a.socket.nextJson()).toMatchObject({ group: 'all' });
    expect(await b.socket.nextJson()).toMatchObject({ group: 'all' });
    for (const body of [
      '{"groups":[]}',
      '{"groups":["ok","  "]}',
      '{"groups":"x"}',
      '[]',
      '{',
      '{"groups":["g"],"filter":"userId eq"}',
    ]) {
      const response = await restRequest(emulator, 'POST', '/api/hubs/bulk1/:addToGroups', {
        body,
        contentType: 'application/json',
      });
      expect([body, response.status]).toEqual([body, 400]);
    }
    expect(await service.groupExists('ok')).toBe(false);
    const wrongType = await restRequest(emulator, 'POST', '/api/hubs/bulk1/:removeFromGroups', {
      body: '{"groups":["all"]}',
      contentType: 'text/plain',
    });
    expect(wrongType.status).toBe(415);
    await service.removeConnectionFromAllGroups(a.id);
    await service.removeConnectionFromAllGroups(a.id);
    expect(await service.groupExists('y')).toBe(false);
  });

  it('RestApi_CloseGroupAndHubConnections_HonorExclusionsAndReason', async () => {
    const service = serviceClient(emulator, 'close2');
    const a = await connect('close2', { groups: ['g'] });
    const b = await connect('close2', { groups: ['g'] });
    const c = await connect('close2');
    await service
      .group('g')
      .closeAllConnections({ excluded: [b.id, b.id, 'garbage'], reason: 'group ✓' } as never);
    expect(await a.socket.nextJson()).toMatchObject({
      message: 'Application server closed the connection. Reason: group ✓',
    });
    expect((await a.socket.closed).code).toBe(1000);
    await service.closeAllConnections({ excluded: [c.id], reason: 'hub' } as never);
    expect(await b.socket.nextJson()).toMatchObject({
      message: 'Application server closed the connection. Reason: hub',
    });
    expect(await service.connectionExists(c.id)).toBe(true);
  });

  it('RestApiTests.Close.OfficialServerSdkClosesOnlyScopedConnections / ScopedCloseWithNoMatches', async () => {
    const service = serviceClient(emulator, 'close3');
    const u = await connect('close3', { userId: 'u' });
    const U = await connect('close3', { userId: 'U', groups: ['g'] });
    await service.closeUserConnections('u');
    expect((await u.socket.closed).code).toBe(1000);
    expect(await service.connectionExists(U.id)).toBe(true);
    await service.closeUserConnections('nobody');
    await service.group('empty').closeAllConnections();
    await serviceClient(emulator, 'close3empty').closeAllConnections();
    expect(await service.connectionExists(U.id)).toBe(true);
  });

  it('RestApiTests.GroupMembers.OfficialSdkEnumeratesAcrossPages', async () => {
    const service = serviceClient(emulator, 'list1');
    const members: Client[] = [];
    for (let i = 0; i < 5; i++) members.push(await connect('list1', { userId: `u${i}`, groups: ['g'] }));
    await connect('list1', { userId: 'outsider' });
    const pages: { connectionId: string; userId?: string }[][] = [];
    for await (const page of (await service.group('g').listConnections({ maxPageSize: 2 })).byPage())
      pages.push(page);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    const listed = pages.flat();
    expect(listed.map((m) => m.connectionId)).toEqual(members.map((m) => m.id).sort());
    expect(listed.map((m) => m.userId).sort()).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    const limited = [];
    for await (const member of await service.group('g').listConnections({ maxPageSize: 2, top: 3 }))
      limited.push(member);
    expect(limited).toHaveLength(3);
    const none = [];
    for await (const member of await service.group('nobody').listConnections()) none.push(member);
    expect(none).toEqual([]);
  });

  it('RestApiTests.GroupMembers.RejectInvalidQuery / RejectModifiedAndForeignTokens', async () => {
    for (let i = 0; i < 3; i++) await connect('list2', { groups: ['g', 'h'] });
    const base = '/api/hubs/list2/groups/g/connections?api-version=2024-12-01';
    for (const query of [
      '&maxpagesize=0',
      '&maxpagesize=201',
      '&maxpagesize=abc',
      '&top=0',
      '&continuationToken=garbage',
    ]) {
      expect([query, (await restRequest(emulator, 'GET', `${base}${query}`)).status]).toEqual([query, 400]);
    }
    const first = (await (await restRequest(emulator, 'GET', `${base}&maxpagesize=1`)).json()) as {
      nextLink: string;
    };
    const token = new URL(first.nextLink, emulator.endpoint).searchParams.get('continuationToken') as string;
    expect(
      (
        await restRequest(
          emulator,
          'GET',
          `${base}&maxpagesize=1&continuationToken=${encodeURIComponent(token)}`,
        )
      ).status,
    ).toBe(200);
    const modified = token.replace(/^./, (c) => (c === 'e' ? 'f' : 'e'));
    expect(
      (await restRequest(emulator, 'GET', `${base}&continuationToken=${encodeURIComponent(modified)}`))
        .status,
    ).toBe(400);
    const foreign = `/api/hubs/list2/groups/h/connections?continuationToken=${encodeURIComponent(token)}`;
    expect((await restRequest(emulator, 'GET', foreign)).status).toBe(400);
  });

  it('RestApiTests.Groups.OfficialSdkGroupApisPreserveSelectionMembershipAndPermissions', async () => {
    const service = serviceClient(emulator, 'groups1');
    const chosen = await connect('groups1', { userId: 'pick', roles: ['webpubsub.sendToGroup.team'] });
    const other = await connect('groups1', { userId: 'skip' });
    await service.addConnectionsToGroups(['team'], odata`userId eq ${'pick'}`);
    chosen.socket.sendJson({
      type: 'sendToGroup',
      group: 'team',
      ackId: 1,
      dataType: 'text',
      data: 'hello team',
    });
    const got = [await chosen.socket.nextJson(), await chosen.socket.nextJson()];
    expect(got).toContainEqual({ type: 'ack', ackId: 1, success: true });
    expect(got).toContainEqual(
      expect.objectContaining({ group: 'team', data: 'hello team', fromUserId: 'pick' }),
    );
    expect(await service.hasPermission(chosen.id, 'sendToGroup', { targetName: 'team' })).toBe(true);
    await expectNothingBefore('groups1', other);
  });

  it('RestApiTests.Permissions.ContractPreservesVersionsTargetsAndMissingConnections', async () => {
    const service = serviceClient(emulator, 'perm1');
    const client = await connect('perm1');
    expect(await service.hasPermission(client.id, 'joinLeaveGroup', { targetName: 'g' })).toBe(false);
    await service.grantPermission(client.id, 'joinLeaveGroup', { targetName: 'g' });
    await service.grantPermission(client.id, 'joinLeaveGroup', { targetName: 'g' });
    expect(await service.hasPermission(client.id, 'joinLeaveGroup', { targetName: 'g' })).toBe(true);
    expect(await service.hasPermission(client.id, 'joinLeaveGroup', { targetName: 'h' })).toBe(false);
    expect(await service.hasPermission(client.id, 'sendToGroup', { targetName: 'g' })).toBe(false);
    await service.grantPermission(client.id, 'sendToGroup');
    expect(await service.hasPermission(client.id, 'sendToGroup', { targetName: 'anything' })).toBe(true);
    await service.revokePermission(client.id, 'joinLeaveGroup', { targetName: 'g' });
    expect(await service.hasPermission(client.id, 'joinLeaveGroup', { targetName: 'g' })).toBe(false);
    expect((await failure(service.grantPermission('missing', 'sendToGroup'))).statusCode).toBe(404);
    expect(await service.hasPermission('missing', 'sendToGroup')).toBe(false);
    await service.revokePermission('missing', 'sendToGroup');
    const aliases = await restRequest(
      emulator,
      'HEAD',
      `/api/hubs/perm1/permissions/SENDTOGROUP/connections/${client.id}?api-version=2023-07-01`,
    );
    expect(aliases.status).toBe(200);
    const unknown = await restRequest(
      emulator,
      'PUT',
      `/api/hubs/perm1/permissions/admin/connections/${client.id}`,
    );
    expect(unknown.status).toBe(400);
  });

  it('RestApiTests.Permissions.ReturnsConflictAboveTheLiteralPermissionLimit', async () => {
    const client = await connect('perm2');
    const grant = (target: string): Promise<Response> =>
      restRequest(
        emulator,
        'PUT',
        `/api/hubs/perm2/permissions/sendToGroup/connections/${client.id}?targetName=${target}`,
      );
    for (let batch = 0; batch < 1000; batch += 50) {
      const statuses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => grant(`g${batch + i}`).then((r) => r.status)),
      );
      expect(new Set(statuses)).toEqual(new Set([200]));
    }
    expect((await grant('g0')).status).toBe(200);
    const conflict = await grant('one-too-many');
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('x-ms-error-code')).toBe('Error.Connection.Conflict');
  });

  it('RestApiTests.Permissions.OfficialSdkPermissionChangesApplyToClientOperationsAndSurviveRecovery', async () => {
    const service = serviceClient(emulator, 'perm3');
    const client = await connect('perm3', {}, RELIABLE);
    await service.grantPermission(client.id, 'joinLeaveGroup', { targetName: 'g' });
    client.socket.sendJson({ type: 'joinGroup', group: 'g', ackId: 1 });
    expect(await client.socket.nextJson()).toEqual({ type: 'ack', ackId: 1, success: true });
    client.socket.sendJson({ type: 'joinGroup', group: 'h', ackId: 2 });
    expect(await client.socket.nextJson()).toMatchObject({ ackId: 2, error: { name: 'Forbidden' } });
    await cut(client);
    const socket = await recover(client);
    await socket.nextJson();
    socket.sendJson({ type: 'leaveGroup', group: 'g', ackId: 3 });
    expect(await socket.nextJson()).toEqual({ type: 'ack', ackId: 3, success: true });
    await service.revokePermission(client.id, 'joinLeaveGroup', { targetName: 'g' });
    socket.sendJson({ type: 'joinGroup', group: 'g', ackId: 4 });
    expect(await socket.nextJson()).toMatchObject({ ackId: 4, error: { name: 'Forbidden' } });
  });

  it('PatternMatcherTests: wildcard roles as the service documents them (truth table)', async () => {
    const service = serviceClient(emulator, 'pattern1');
    const table: [string, string, boolean][] = [
      ['room.*', 'room.a', true],
      ['room.*', 'room.', true],
      ['room.*', 'room.a.b', false],
      ['room.**', 'room.a.b', true],
      ['room.?', 'room.a', true],
      ['room.?', 'room.ab', false],
      ['room?', 'room.', false],
      ['a\\*b', 'a*b', true],
      ['a\\*b', 'axb', false],
      ['Room.*', 'room.a', false],
      ['*.*.*.*.*.*', 'a.b.c.d.e.f', false],
    ];
    for (const [pattern, group, expected] of table) {
      const client = await connect('pattern1', { roles: [`webpubsub.sendToGroups.${pattern}`] });
      const allowed = await service.hasPermission(client.id, 'sendToGroup', { targetName: group });
      expect([pattern, group, allowed]).toEqual([pattern, group, expected]);
    }
  });

  it(':generateToken mints a client token for the hub (key auth; the SDK itself only calls it with Entra)', async () => {
    const response = await restRequest(
      emulator,
      'POST',
      '/api/hubs/Token1/:generateToken?api-version=2024-12-01&userId=minted&role=webpubsub.joinLeaveGroup&group=g&minutesToExpire=5',
    );
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    const socket = await TestSocket.open(
      `ws://localhost:${emulator.port}/client/hubs/token1?access_token=${token}`,
      JSON_V1,
    );
    sockets.push(socket);
    expect(await socket.nextJson()).toMatchObject({ event: 'connected', userId: 'minted' });
    expect(await serviceClient(emulator, 'token1').groupExists('g')).toBe(true);
    const mqtt = await restRequest(emulator, 'POST', '/api/hubs/token1/:generateToken?clientType=MQTT');
    expect(mqtt.status).toBe(400);
  });

  it('unknown paths and methods', async () => {
    expect((await restRequest(emulator, 'GET', '/api/hubs/x/nothing')).status).toBe(404);
    const wrongMethod = await restRequest(emulator, 'GET', '/api/hubs/x/:send');
    expect(wrongMethod.status).toBe(405);
    expect((await fetch(`${emulator.endpoint}/elsewhere`)).status).toBe(404);
  });
});
