/**
 * Frames written to one client socket during one turn of the event loop leave in one system call.
 *
 * A broadcast is one write per socket, and on loopback each write is a trip through the kernel's TCP
 * stack that costs more than everything else the emulator does for the message (about 30% of the process
 * in a profile of `npm run load`). When the emulator falls behind, several REST sends are handled in the
 * same turn; holding each touched socket corked until the turn ends turns their frames into one writev per
 * socket. When it keeps up, a turn carries one frame per socket and nothing changes but a single
 * setImmediate per turn. ws has no such option: it corks only around the frame it is writing.
 */

/** What batching needs of the socket under a WebSocket (a net.Socket, or any Writable). */
export interface Transport {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

const transports = new WeakMap<object, Transport>();
/** Each corked socket with the number of frames held for it this turn. */
const corked = new Map<Transport, number>();
let flushScheduled = false;

/**
 * A batch leaves early once it holds this many frames. Held frames have not been written yet, so their
 * write callbacks are held too, and the emulator counts unconfirmed writes to spot clients that stop
 * reading (`maxOutboundMessages`): an unbounded batch in a very busy turn could look like a slow client.
 */
export const MAX_FRAMES_PER_BATCH = 64;

/** Called at the upgrade, the only moment the raw socket under a ws WebSocket (the key) is in hand. */
export function rememberTransport(ws: object, socket: Transport): void {
  transports.set(ws, socket);
}

/**
 * Holds `ws`'s writes until the end of this turn of the event loop (the check phase), or until the batch
 * is full. Call it once per frame, just before the frame is written.
 */
export function batchWritesThisTurn(ws: object): void {
  const socket = transports.get(ws);
  if (socket === undefined || socket.destroyed) return;
  const held = corked.get(socket);
  if (held === undefined) {
    socket.cork();
    corked.set(socket, 1);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
    return;
  }
  if (held < MAX_FRAMES_PER_BATCH) {
    corked.set(socket, held + 1);
    return;
  }
  // Full: send what is held and start a new batch with this frame.
  socket.uncork();
  socket.cork();
  corked.set(socket, 1);
}

function flush(): void {
  flushScheduled = false;
  for (const socket of corked.keys()) socket.uncork();
  corked.clear();
}
