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
const corked = new Set<Transport>();
let flushScheduled = false;

/** Called at the upgrade, the only moment the raw socket under a ws WebSocket (the key) is in hand. */
export function rememberTransport(ws: object, socket: Transport): void {
  transports.set(ws, socket);
}

/** Holds `ws`'s writes until the end of this turn of the event loop (until the check phase). */
export function batchWritesThisTurn(ws: object): void {
  const socket = transports.get(ws);
  if (socket === undefined || corked.has(socket) || socket.destroyed) return;
  socket.cork();
  corked.add(socket);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushScheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}
