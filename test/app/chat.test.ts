import { createChatHooks, type ChatOptions } from '../../src/app/chat';
import { createRoomPolicy } from '../../src/app/rooms';
import type { ChatService } from '../../src/app/service';
import {
  ConnectRejection,
  type ConnectEvent,
  type EventContext,
  type UserEvent,
  type WebhookHooks,
} from '../../src/events/hooks';
import { ConnectionState } from '../../src/protocol/connection-state';

/**
 * The chat app's hooks against a fake service. Expected replies and messages are the ones written in the
 * chat contract (/work/chat-contract.md as agreed with the demo page), not derived from the code.
 */
interface Call {
  op: 'join' | 'leave' | 'members' | 'send';
  hub: string;
  room: string;
  connectionId?: string;
  message?: unknown;
  excluded?: string;
}

class FakeService implements ChatService {
  calls: Call[] = [];
  members_: Record<string, string[]> = {};
  failing = new Set<string>();

  private check(op: string, room: string): void {
    if (this.failing.has(op) || this.failing.has(`${op}:${room}`)) {
      throw Object.assign(new Error(`service refused ${op}`), { name: 'RestError' });
    }
  }

  async join(hub: string, room: string, connectionId: string) {
    this.check('join', room);
    this.calls.push({ op: 'join', hub, room, connectionId });
  }
  async leave(hub: string, room: string, connectionId: string) {
    this.check('leave', room);
    this.calls.push({ op: 'leave', hub, room, connectionId });
  }
  async members(hub: string, room: string) {
    this.check('members', room);
    this.calls.push({ op: 'members', hub, room });
    return this.members_[room] ?? [];
  }
  async send(hub: string, room: string, message: unknown, excluded?: string) {
    this.check('send', room);
    this.calls.push({ op: 'send', hub, room, message, ...(excluded === undefined ? {} : { excluded }) });
  }
  sent(): Call[] {
    return this.calls.filter((call) => call.op === 'send');
  }
}

const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
const log = {
  info() {},
  warn(message: string, fields?: Record<string, unknown>) {
    warnings.push({ message, fields });
  },
  error() {},
};

function contextOf(
  overrides: Partial<Omit<EventContext, 'state'>> & { state?: ConnectionState } = {},
): EventContext {
  return {
    hub: 'chat',
    connectionId: 'conn-1',
    userId: 'alice',
    eventName: 'connect',
    eventId: '1',
    subprotocol: 'json.reliable.webpubsub.azure.v1',
    origin: 'localhost',
    clientProtocol: 'default',
    mqtt: undefined,
    state: new ConnectionState(),
    log,
    ...overrides,
  };
}

let service: FakeService;
let clock: number;
let hooks: WebhookHooks;
let ids: number;

function build(options: Partial<ChatOptions> = {}): void {
  hooks = createChatHooks({
    service,
    canJoin: createRoomPolicy(['lobby', 'room.*', 'user.{userId}']),
    now: () => clock,
    newId: () => `id-${++ids}`,
    ...options,
  });
}

beforeEach(() => {
  service = new FakeService();
  clock = Date.UTC(2026, 0, 2, 3, 4, 5);
  ids = 0;
  warnings.length = 0;
  build();
});

/** A connection that is in `rooms`, with its own state carried from event to event as the service does. */
function connection(userId = 'alice', rooms: string[] = [], connectionId = 'conn-1') {
  const state = new ConnectionState(rooms.length > 0 ? { rooms } : {});
  return {
    state,
    async send(eventName: string, data: unknown, dataType: 'json' | 'text' = 'json') {
      const event = {
        dataType,
        data,
        context: contextOf({ eventName, userId, connectionId, state }),
      } as UserEvent;
      return hooks.userEvent!(event);
    },
  };
}

describe('connect', () => {
  function connect(
    userId: string | undefined,
    claims: Record<string, string[]>,
    subprotocols: string[] = [],
  ) {
    const state = new ConnectionState();
    const event: ConnectEvent = {
      claims,
      query: {},
      headers: {},
      subprotocols,
      clientCertificates: [],
      mqtt: undefined,
      context: contextOf({ userId, state }),
    };
    return { result: hooks.connect!(event), state };
  }

  it('refuses a connection without a user id with 401', () => {
    const { result } = connect(undefined, {});
    expect(result).toBeInstanceOf(ConnectRejection);
    expect((result as ConnectRejection).status).toBe(401);
  });

  it('remembers the rooms of the token in connection state, without calling the service', () => {
    const { result, state } = connect(
      'alice',
      { sub: ['alice'], 'webpubsub.group': ['lobby', 'room.general', 'lobby'] },
      ['json.webpubsub.azure.v1', 'json.reliable.webpubsub.azure.v1'],
    );
    expect(result).toEqual({ subprotocol: 'json.reliable.webpubsub.azure.v1' });
    expect(state.toJSON()).toEqual({ rooms: ['lobby', 'room.general'] });
    expect(service.calls).toEqual([]);
  });

  it('leaves the state untouched when the token names no group, and ignores names too long for a room', () => {
    expect(connect('alice', { sub: ['alice'] }).state.changed).toBe(false);
    expect(connect('alice', { 'webpubsub.group': ['x'.repeat(65)] }).state.changed).toBe(false);
  });
});

describe('join', () => {
  it('adds the connection to the group, remembers the room, announces presence and lists the members', async () => {
    service.members_['room.general'] = ['alice', 'bob'];
    const alice = connection('alice', ['lobby']);
    expect(await alice.send('join', { room: 'room.general' })).toEqual({
      dataType: 'json',
      data: { ok: true, room: 'room.general', members: ['alice', 'bob'] },
    });
    expect(service.calls).toContainEqual({
      op: 'join',
      hub: 'chat',
      room: 'room.general',
      connectionId: 'conn-1',
    });
    expect(service.sent()).toEqual([
      {
        op: 'send',
        hub: 'chat',
        room: 'room.general',
        message: { type: 'presence', room: 'room.general', userId: 'alice', status: 'online' },
      },
    ]);
    expect(alice.state.get('rooms')).toEqual(['lobby', 'room.general']);
  });

  it('refuses a room outside the policy with forbidden and calls nothing', async () => {
    const alice = connection('alice');
    for (const room of ['staff', 'user.bob', 'room.a.b']) {
      expect((await alice.send('join', { room }))?.data).toEqual({ ok: false, error: 'forbidden' });
    }
    expect(service.calls).toEqual([]);
    expect(alice.state.changed).toBe(false);
  });

  it("opens the user's own room, and a user id with wildcards matches only itself", async () => {
    expect((await connection('alice').send('join', { room: 'user.alice' }))?.data).toMatchObject({
      ok: true,
    });
    expect((await connection('a*').send('join', { room: 'user.anything' }))?.data).toEqual({
      ok: false,
      error: 'forbidden',
    });
    expect((await connection('a*').send('join', { room: 'user.a*' }))?.data).toMatchObject({ ok: true });
  });

  it.each([
    ['no room', {}],
    ['an extra field', { room: 'lobby', admin: true }],
    ['a room that is not a string', { room: 7 }],
    ['a blank room', { room: '  ' }],
    ['a room name over 64 characters', { room: `room.${'x'.repeat(60)}` }],
    ['an array', ['lobby']],
  ])('refuses %s as invalid', async (_what, data) => {
    expect((await connection().send('join', data))?.data).toEqual({ ok: false, error: 'invalid' });
    expect(service.calls).toEqual([]);
  });

  it('refuses text data as invalid', async () => {
    expect((await connection().send('join', '{"room":"lobby"}', 'text'))?.data).toEqual({
      ok: false,
      error: 'invalid',
    });
  });

  it('refuses a 17th room as invalid: the rooms ride in connection state, which must stay small', async () => {
    const rooms = Array.from({ length: 16 }, (_, i) => `room.${i}`);
    const alice = connection('alice', rooms);
    expect((await alice.send('join', { room: 'room.extra' }))?.data).toEqual({
      ok: false,
      error: 'invalid',
      maxRooms: 16,
    });
    // Joining a room it is already in is still fine (idempotent, no second presence).
    expect((await alice.send('join', { room: 'room.3' }))?.data).toMatchObject({ ok: true, room: 'room.3' });
    expect(service.sent()).toEqual([]);
  });

  it('answers unavailable when the service fails, and remembers nothing it did not do', async () => {
    service.failing.add('join');
    const alice = connection();
    expect((await alice.send('join', { room: 'lobby' }))?.data).toEqual({ ok: false, error: 'unavailable' });
    expect(alice.state.changed).toBe(false);
    expect(warnings).toContainEqual(expect.objectContaining({ message: 'chat: join lobby failed' }));
  });

  it('still joins when only the presence announcement failed (logged)', async () => {
    service.failing.add('send');
    service.members_.lobby = ['alice'];
    const alice = connection();
    expect((await alice.send('join', { room: 'lobby' }))?.data).toEqual({
      ok: true,
      room: 'lobby',
      members: ['alice'],
    });
    expect(warnings).toContainEqual(
      expect.objectContaining({ message: 'chat: presence announcement failed' }),
    );
  });

  it('keeps the room when only the member list failed: the connection is in the group, a retry is harmless', async () => {
    service.failing.add('members');
    const alice = connection();
    expect((await alice.send('join', { room: 'lobby' }))?.data).toEqual({ ok: false, error: 'unavailable' });
    expect(alice.state.get('rooms')).toEqual(['lobby']);
  });
});

describe('message', () => {
  it('sends the message to the room with the sender and the time, and replies with its id', async () => {
    const alice = connection('alice', ['room.general']);
    expect(await alice.send('message', { room: 'room.general', text: '  hello ☃ ' })).toEqual({
      dataType: 'json',
      data: { ok: true, id: 'id-1' },
    });
    expect(service.sent()).toEqual([
      {
        op: 'send',
        hub: 'chat',
        room: 'room.general',
        message: {
          type: 'message',
          id: 'id-1',
          room: 'room.general',
          from: 'alice',
          text: 'hello ☃',
          at: '2026-01-02T03:04:05.000Z',
        },
      },
    ]);
  });

  it('refuses a room the connection is not in with not-in-room, even one the policy allows', async () => {
    const alice = connection('alice', ['lobby']);
    expect((await alice.send('message', { room: 'room.general', text: 'hi' }))?.data).toEqual({
      ok: false,
      error: 'not-in-room',
    });
    expect(service.sent()).toEqual([]);
  });

  it.each([
    ['an empty text', { room: 'lobby', text: '' }],
    ['a blank text', { room: 'lobby', text: ' \n\t ' }],
    ['a text of 2001 characters', { room: 'lobby', text: 'x'.repeat(2001) }],
    ['a text that is not a string', { room: 'lobby', text: 42 }],
    ['no text', { room: 'lobby' }],
    ['an extra field', { room: 'lobby', text: 'hi', from: 'bob' }],
    ['null', null],
  ])('refuses %s as invalid and sends nothing', async (_what, data) => {
    expect((await connection('alice', ['lobby']).send('message', data))?.data).toEqual({
      ok: false,
      error: 'invalid',
    });
    expect(service.sent()).toEqual([]);
  });

  it('accepts exactly 2000 characters after trimming', async () => {
    const text = `  ${'x'.repeat(2000)}  `;
    expect(
      (await connection('alice', ['lobby']).send('message', { room: 'lobby', text }))?.data,
    ).toMatchObject({
      ok: true,
    });
  });

  it('allows a burst of 5 per connection, then refuses with rate-limited until a token is back (1 per second)', async () => {
    const alice = connection('alice', ['lobby']);
    const bob = connection('bob', ['lobby'], 'conn-2');
    for (let i = 0; i < 5; i++) {
      expect((await alice.send('message', { room: 'lobby', text: `m${i}` }))?.data).toMatchObject({
        ok: true,
      });
    }
    expect((await alice.send('message', { room: 'lobby', text: 'm5' }))?.data).toEqual({
      ok: false,
      error: 'rate-limited',
      retryAfterMs: 1000,
    });
    // Another connection has its own bucket.
    expect((await bob.send('message', { room: 'lobby', text: 'b' }))?.data).toMatchObject({ ok: true });
    clock += 400;
    expect((await alice.send('message', { room: 'lobby', text: 'm5' }))?.data).toEqual({
      ok: false,
      error: 'rate-limited',
      retryAfterMs: 600,
    });
    clock += 600;
    expect((await alice.send('message', { room: 'lobby', text: 'm5' }))?.data).toMatchObject({ ok: true });
    expect(service.sent()).toHaveLength(7);
  });

  it('answers unavailable when the send fails, without spending a token', async () => {
    const alice = connection('alice', ['lobby']);
    service.failing.add('send');
    for (let i = 0; i < 6; i++) {
      expect((await alice.send('message', { room: 'lobby', text: 'x' }))?.data).toEqual({
        ok: false,
        error: 'unavailable',
      });
    }
    service.failing.clear();
    for (let i = 0; i < 5; i++) {
      expect((await alice.send('message', { room: 'lobby', text: 'x' }))?.data).toMatchObject({ ok: true });
    }
  });
});

describe('typing, leave and other events', () => {
  it('relays typing to the room except the sender', async () => {
    const alice = connection('alice', ['lobby']);
    expect((await alice.send('typing', { room: 'lobby' }))?.data).toEqual({ ok: true });
    expect(service.sent()).toEqual([
      {
        op: 'send',
        hub: 'chat',
        room: 'lobby',
        message: { type: 'typing', room: 'lobby', userId: 'alice' },
        excluded: 'conn-1',
      },
    ]);
    expect((await alice.send('typing', { room: 'room.general' }))?.data).toEqual({
      ok: false,
      error: 'not-in-room',
    });
  });

  it('leaves the group, forgets the room and announces offline', async () => {
    const alice = connection('alice', ['lobby', 'room.general']);
    expect((await alice.send('leave', { room: 'lobby' }))?.data).toEqual({ ok: true, room: 'lobby' });
    expect(service.calls).toEqual([
      { op: 'leave', hub: 'chat', room: 'lobby', connectionId: 'conn-1' },
      {
        op: 'send',
        hub: 'chat',
        room: 'lobby',
        message: { type: 'presence', room: 'lobby', userId: 'alice', status: 'offline' },
      },
    ]);
    expect(alice.state.get('rooms')).toEqual(['room.general']);
    expect((await alice.send('message', { room: 'lobby', text: 'hi' }))?.data).toEqual({
      ok: false,
      error: 'not-in-room',
    });
  });

  it('leaves text and binary message events (raw WebSocket frames) unanswered: raw clients are not chat clients', async () => {
    const alice = connection('alice', ['lobby']);
    expect(await alice.send('message', '{"room":"lobby","text":"hi"}', 'text')).toBeUndefined();
    expect(service.calls).toEqual([]);
  });

  it('echoes echo and acknowledges unknown events without a reply', async () => {
    const alice = connection();
    expect(await alice.send('echo', { a: 1 })).toEqual({ dataType: 'json', data: { a: 1 } });
    expect(await alice.send('something-else', 'x', 'text')).toBeUndefined();
    expect(await alice.send('toString', 'x', 'text')).toBeUndefined();
    expect(service.calls).toEqual([]);
  });
});

describe('connected and disconnected', () => {
  it('announce online and offline to every room in the state; one failing room does not stop the others', async () => {
    const state = new ConnectionState({ rooms: ['lobby', 'room.general'] });
    service.failing.add('send:lobby');
    await hooks.connected!(contextOf({ eventName: 'connected', state }));
    expect(service.sent()).toEqual([
      {
        op: 'send',
        hub: 'chat',
        room: 'room.general',
        message: { type: 'presence', room: 'room.general', userId: 'alice', status: 'online' },
      },
    ]);
    expect(warnings).toContainEqual(
      expect.objectContaining({ message: 'chat: presence announcement failed' }),
    );
    service.failing.clear();
    await hooks.disconnected!(contextOf({ eventName: 'disconnected', state }), 'bye');
    expect(
      service
        .sent()
        .slice(1)
        .map((call) => call.message),
    ).toEqual([
      { type: 'presence', room: 'lobby', userId: 'alice', status: 'offline' },
      { type: 'presence', room: 'room.general', userId: 'alice', status: 'offline' },
    ]);
  });
});
