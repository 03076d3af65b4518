import { startLocalStack, type LocalStack } from '../../dev/stack';
import { inBatches, negotiate, RawChatClient, signIn } from './support';

/**
 * The acceptance test of the reference chat without a browser: 200 clients sign in with the development
 * issuer, negotiate, connect through the local stack (emulator + local Functions host + our webhook and chat
 * app), join rooms and exchange messages. Every message must arrive exactly once at every member of its room
 * and never at anyone else. A hub-wide broadcast through the push API, sent after every message was
 * acknowledged, is the barrier: per connection the service keeps order, so what did not arrive before it
 * never will.
 */
const CLIENTS = 200;
const ROOMS = Array.from({ length: 10 }, (_, i) => `room.r${i}`);

let stack: LocalStack;
const clients: RawChatClient[] = [];
const hostLog: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    emulatorPort: 0,
    entry: ['src/functions/*.ts'],
    log: (line) => hostLog.push(line),
  });
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

/** Client i starts in one room (negotiated); every fourth one joins a second room with the join event. */
const firstRoom = (i: number): string => ROOMS[i % ROOMS.length] as string;
const secondRoom = (i: number): string | undefined =>
  i % 4 === 0 ? ROOMS[(i + 3) % ROOMS.length] : undefined;

describe('200 chat clients through the local stack', () => {
  it('deliver every message exactly once to every member of its room and to nobody else', async () => {
    // Sign in, negotiate and connect.
    const connected = await inBatches(
      Array.from({ length: CLIENTS }, (_, i) => i),
      25,
      async (i) => {
        const user = `user${String(i).padStart(3, '0')}`;
        const token = await signIn(stack.url, user);
        const { url, groups } = await negotiate(stack.url, token, [firstRoom(i)]);
        expect(groups).toEqual([firstRoom(i)]);
        return RawChatClient.connect(user, url);
      },
    );
    clients.push(...connected);

    // Join the second rooms; the reply lists the room's members, the joiner among them.
    await inBatches(clients, 50, async (client, i) => {
      const room = secondRoom(i);
      if (room === undefined) return;
      const reply = (await client.event('join', { room })) as {
        ok: boolean;
        room: string;
        members: string[];
      };
      expect(reply).toMatchObject({ ok: true, room });
      expect(reply.members).toContain(client.userId);
      expect(reply.members).toEqual([...reply.members].sort());
    });

    const members = new Map<string, Set<number>>(ROOMS.map((room) => [room, new Set<number>()]));
    clients.forEach((_, i) => {
      members.get(firstRoom(i))?.add(i);
      const second = secondRoom(i);
      if (second !== undefined) members.get(second)?.add(i);
    });

    // Every client sends one message to each of its rooms (two per room for variety: within the burst).
    const sent = new Map<string, string>(); // message id -> room
    await inBatches(clients, 50, async (client, i) => {
      for (const room of [firstRoom(i), secondRoom(i)]) {
        if (room === undefined) continue;
        for (let n = 0; n < 2; n++) {
          const reply = (await client.event('message', {
            room,
            text: `hello ${room} from ${client.userId} #${n}`,
          })) as {
            ok: boolean;
            id: string;
          };
          expect(reply).toMatchObject({ ok: true, id: expect.any(String) });
          expect(sent.has(reply.id)).toBe(false);
          sent.set(reply.id, room);
        }
      }
    });
    expect(sent.size).toBe((CLIENTS + CLIENTS / 4) * 2);

    // The barrier: one broadcast to the hub through the push API.
    const barrier = await fetch(`${stack.url}/api/hubs/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'barrier', text: 'end of test' }),
    });
    expect(barrier.status).toBe(202);
    await Promise.all(
      clients.map((client) =>
        client.next(
          (message) => message.from === 'server' && (message.data as { title?: string }).title === 'barrier',
        ),
      ),
    );

    let deliveries = 0;
    clients.forEach((client, i) => {
      const counts = new Map<string, number>();
      for (const { group, data } of client.chatMessages()) {
        const id = data.id as string;
        counts.set(id, (counts.get(id) ?? 0) + 1);
        // Delivered in the room's group, naming that room.
        expect(group).toBe(sent.get(id));
        expect(data.room).toBe(group);
      }
      const expected = [...sent].filter(([, room]) => members.get(room)?.has(i)).map(([id]) => id);
      expect([...counts.keys()].sort()).toEqual(expected.sort());
      expect([...counts.values()].every((count) => count === 1)).toBe(true);
      deliveries += counts.size;
    });
    const expectedDeliveries = [...sent.values()].reduce(
      (sum, room) => sum + (members.get(room)?.size ?? 0),
      0,
    );
    expect(deliveries).toBe(expectedDeliveries);
  }, 60_000);

  it('names the sender and refuses rooms outside the policy or not joined', async () => {
    const [alice, bob] = [clients[0]!, clients[10]!]; // both in room.r0
    const reply = (await alice.event('message', { room: firstRoom(0), text: 'who am I?' })) as { id: string };
    const received = await bob.next(
      (message) => message.from === 'group' && (message.data as { id?: string }).id === reply.id,
    );
    expect(received.data).toMatchObject({
      type: 'message',
      from: alice.userId,
      room: firstRoom(0),
      text: 'who am I?',
    });

    expect(await alice.event('join', { room: 'staff' })).toEqual({ ok: false, error: 'forbidden' });

    // Presence: a newcomer's connected and disconnected events are announced to its room.
    const presence = (userId: string, status: string) => (message: { from?: string; data?: unknown }) =>
      message.from === 'group' &&
      JSON.stringify(message.data) ===
        JSON.stringify({ type: 'presence', room: firstRoom(0), userId, status });
    const { url } = await negotiate(stack.url, await signIn(stack.url, 'newcomer'), [firstRoom(0)]);
    const newcomer = await RawChatClient.connect('newcomer', url);
    await alice.next(presence('newcomer', 'online'));
    await newcomer.close();
    await alice.next(presence('newcomer', 'offline'));
    expect(await alice.event('message', { room: 'room.r5', text: 'not a member' })).toEqual({
      ok: false,
      error: 'not-in-room',
    });
  });
});
