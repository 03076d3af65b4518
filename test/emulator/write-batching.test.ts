import { Writable } from 'node:stream';
import {
  batchWritesThisTurn,
  MAX_FRAMES_PER_BATCH,
  rememberTransport,
} from '../../emulator/client/write-batching';

/** A transport that records each system-call-sized write it is handed: one entry per write or writev. */
function recordingTransport(): { transport: Writable; writes: string[][] } {
  const writes: string[][] = [];
  const transport = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      done();
    },
  });
  return { transport, writes };
}

const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('write batching of client sockets', () => {
  it('sends the frames written to one socket during one turn as one writev, at the end of the turn', async () => {
    const { transport, writes } = recordingTransport();
    const ws = {};
    rememberTransport(ws, transport);
    for (const frame of ['first', 'second', 'third']) {
      batchWritesThisTurn(ws);
      transport.write(frame);
    }
    expect(writes).toEqual([]);
    await endOfTurn();
    expect(writes).toEqual([['first', 'second', 'third']]);
  });

  it('batches each socket on its own and starts afresh on the next turn', async () => {
    const a = recordingTransport();
    const b = recordingTransport();
    const [wsA, wsB] = [{}, {}];
    rememberTransport(wsA, a.transport);
    rememberTransport(wsB, b.transport);
    batchWritesThisTurn(wsA);
    a.transport.write('a1');
    batchWritesThisTurn(wsB);
    b.transport.write('b1');
    batchWritesThisTurn(wsA);
    a.transport.write('a2');
    await endOfTurn();
    batchWritesThisTurn(wsA);
    a.transport.write('a3');
    await endOfTurn();
    expect(a.writes).toEqual([['a1', 'a2'], ['a3']]);
    expect(b.writes).toEqual([['b1']]);
  });

  it('sends a full batch at once, so a busy turn never holds more than a batch of unconfirmed writes', async () => {
    const { transport, writes } = recordingTransport();
    const ws = {};
    rememberTransport(ws, transport);
    const frames = Array.from({ length: MAX_FRAMES_PER_BATCH + 3 }, (_, index) => `frame ${index}`);
    for (const frame of frames) {
      batchWritesThisTurn(ws);
      transport.write(frame);
    }
    expect(writes).toEqual([frames.slice(0, MAX_FRAMES_PER_BATCH)]);
    await endOfTurn();
    expect(writes).toEqual([frames.slice(0, MAX_FRAMES_PER_BATCH), frames.slice(MAX_FRAMES_PER_BATCH)]);
  });
});
