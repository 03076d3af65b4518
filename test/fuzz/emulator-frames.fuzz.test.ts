import fc from 'fast-check';
import type { Emulator } from '../../emulator';
import { jsonClient, startEmulator, type TestSocket } from '../emulator/helpers';
import { fuzzParameters, fuzzTimeout } from './fuzz-config';

/**
 * Arbitrary text and binary frames from a client through the emulator's JSON subprotocols. After each frame
 * the client pings: the emulator must either answer (acks, messages, then the pong) or close the socket with
 * a protocol close code. It never throws, never closes with 1011 (internal error), and still serves a new
 * client at the end.
 */
const PROTOCOLS = ['json.webpubsub.azure.v1', 'json.reliable.webpubsub.azure.v1'] as const;
const ROLES = ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'];
const MAX_MESSAGE = 4096;
// 1003 unsupported data, 1007 invalid payload, 1008 policy (reliable buffer), 1009 too big.
const PROTOCOL_CLOSE_CODES = [1003, 1007, 1008, 1009];

let emulator: Emulator;
const open = new Map<string, TestSocket>();
const all: TestSocket[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ limits: { maxClientMessageBytes: MAX_MESSAGE } });
});

afterAll(async () => {
  for (const socket of all) socket.ws.terminate();
  await emulator.close();
});

async function socketFor(protocol: string): Promise<TestSocket> {
  const existing = open.get(protocol);
  if (existing !== undefined) return existing;
  const { socket, connected } = await jsonClient(emulator, 'fuzz', { roles: ROLES, userId: 'u1' }, protocol);
  expect(connected).toMatchObject({ type: 'system', event: 'connected' });
  open.set(protocol, socket);
  all.push(socket);
  return socket;
}

const jsonMessage = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom(
        'joinGroup',
        'leaveGroup',
        'sendToGroup',
        'event',
        'invoke',
        'sequenceAck',
        'ping',
        'cancelInvocation',
      ),
      fc.string({ maxLength: 10 }),
    ),
    group: fc.oneof(fc.constantFrom('g1', '', ' '), fc.string({ maxLength: 12 }), fc.integer()),
    ackId: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 3 }), fc.constant(null)),
    sequenceId: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constant(null)),
    dataType: fc.oneof(fc.constantFrom('json', 'text', 'binary', 'protobuf'), fc.string({ maxLength: 5 })),
    data: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.base64String({ maxLength: 16 })),
    event: fc.oneof(fc.constantFrom('message', 'a.b', ''), fc.string({ maxLength: 10 })),
    noEcho: fc.oneof(fc.boolean(), fc.string({ maxLength: 2 })),
    ttlSeconds: fc.oneof(fc.integer({ min: -5, max: 400 }), fc.double()),
    target: fc.oneof(fc.constant('event'), fc.string({ maxLength: 5 })),
    invocationId: fc.oneof(fc.string({ maxLength: 8 }), fc.nat()),
  },
  { requiredKeys: ['type'] },
);

const frame = fc.oneof(
  jsonMessage.map((message) => ({ data: JSON.stringify(message), binary: false })),
  fc.json({ maxDepth: 3 }).map((json) => ({ data: json, binary: false })),
  fc.string({ maxLength: 100 }).map((text) => ({ data: text, binary: false })),
  fc.uint8Array({ maxLength: 100 }).map((bytes) => ({ data: Buffer.from(bytes), binary: true })),
  jsonMessage.map((message) => ({ data: Buffer.from(JSON.stringify(message)), binary: true })),
  fc.integer({ min: MAX_MESSAGE + 1, max: MAX_MESSAGE * 2 }).map((size) => ({
    data: `{"type":"sendToGroup","group":"g1","data":"${'x'.repeat(size)}"}`,
    binary: false,
  })),
);

/** Reads frames until the pong; resolves with the close code instead if the emulator closed the socket. */
async function answerTo(
  socket: TestSocket,
): Promise<{ messages: Record<string, unknown>[]; closed?: number }> {
  const messages: Record<string, unknown>[] = [];
  const closed = socket.closed.then(({ code }) => ({ closed: code }));
  for (;;) {
    const next = await Promise.race([socket.next().then((f) => ({ frame: f })), closed]);
    if ('closed' in next) return { messages, closed: next.closed };
    const message = JSON.parse(next.frame.data.toString('utf8')) as Record<string, unknown>;
    if (message.type === 'pong') return { messages };
    messages.push(message);
  }
}

test(
  'arbitrary frames: answered or closed with a protocol code, never an internal error',
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PROTOCOLS), frame, async (protocol, sent) => {
        const socket = await socketFor(protocol);
        socket.ws.send(sent.data, { binary: sent.binary });
        socket.ws.send('{"type":"ping"}');
        const { messages, closed } = await answerTo(socket);
        for (const message of messages) {
          expect(['ack', 'message', 'system', 'invokeResponse']).toContain(message.type);
          // The service says why before it closes a connection: a disconnected message, then the close.
          if (message.type === 'system') {
            expect(message.event).toBe('disconnected');
            expect(closed).toBeDefined();
          }
        }
        if (closed !== undefined) {
          open.delete(protocol);
          expect(PROTOCOL_CLOSE_CODES).toContain(closed);
        }
      }),
      fuzzParameters(250),
    );
    const { socket } = await jsonClient(emulator, 'fuzz', {}, PROTOCOLS[0]);
    all.push(socket);
    socket.ws.send('{"type":"ping"}');
    await expect(socket.nextJson()).resolves.toEqual({ type: 'pong' });
  },
  fuzzTimeout(20000),
);
