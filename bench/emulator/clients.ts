import { WebSocket, type RawData } from 'ws';
import type { ClientReport, OpenClients } from './shared';

/**
 * A client process of the fan-out benchmark: opens `count` WebSockets to one server and reports, for each
 * broadcast number k, the moment every one of its sockets has received its k-th message (process.hrtime,
 * which is CLOCK_MONOTONIC and so comparable with the parent's clock on Linux). The same code serves the
 * bare ws server and the emulator; only the URL and subprotocol differ.
 */
function report(message: ClientReport): void {
  // The parent may be gone at teardown; a report that cannot be delivered is simply dropped.
  if (process.connected) process.send?.(message, undefined, {}, () => {});
}

async function open(command: OpenClients): Promise<void> {
  const counts = new Uint32Array(command.count);
  const reached: number[] = [];
  let verified = false;
  const sockets: WebSocket[] = [];

  const onMessage = (index: number, ws: WebSocket, data: RawData): void => {
    const frame = data as Buffer;
    if (!verified) {
      const text = frame.toString('utf8');
      const ok = command.expectedIsPrefix ? text.startsWith(command.expected) : text === command.expected;
      if (!ok) report({ type: 'error', message: `unexpected frame ${JSON.stringify(text.slice(0, 200))}` });
      verified = true;
    }
    const count = ++(counts[index] as number);
    if (command.ackEvery > 0 && count % command.ackEvery === 0) {
      // The sequence id ends the frame: `,"sequenceId":<n>}`.
      const text = frame.toString('latin1', frame.length - 24);
      const sequenceId = text.slice(text.lastIndexOf(':') + 1, -1);
      ws.send(`{"type":"sequenceAck","sequenceId":${sequenceId}}`);
    }
    const done = (reached[count] ?? 0) + 1;
    reached[count] = done;
    if (done === command.count)
      report({ type: 'done', broadcast: count, at: process.hrtime.bigint().toString() });
  };

  const connecting: Promise<void>[] = [];
  for (let index = 0; index < command.count; index++) {
    connecting.push(
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(command.url, command.protocol, { perMessageDeflate: false });
        sockets.push(ws);
        let skip = command.skipFirst;
        ws.on('message', (data) => {
          if (skip) {
            skip = false;
            resolve();
            return;
          }
          onMessage(index, ws, data);
        });
        ws.once('open', () => {
          if (!command.skipFirst) resolve();
        });
        ws.once('error', reject);
        ws.once('close', (code) => {
          report({ type: 'error', message: `a client socket closed (${code})` });
        });
      }),
    );
    // A few at a time: a thousand simultaneous handshakes only measure the accept queue.
    if (connecting.length % 50 === 0) await Promise.all(connecting);
  }
  await Promise.all(connecting);
  report({ type: 'ready' });
  process.once('disconnect', () => {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  });
}

process.once('message', (message: OpenClients) => {
  open(message).catch((error: unknown) => {
    report({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
});
