import WebSocket from 'ws';

/**
 * The receiving side of `npm run load`, in a process of its own (forked by dev/load.ts): on a 2-core
 * machine, clients that shared the stack's event loop made the run measure their own JSON parsing rather
 * than the emulator, and the sender's pace fell with it. The parent negotiates the URLs and sends the
 * pushes; this process connects, counts what arrives and reports over IPC.
 */
export type ClientsRequest =
  | { kind: 'connect'; urls: string[]; timeoutMs: number; expectedMessages: number }
  | { kind: 'progress' }
  | { kind: 'report'; accepted: number[] }
  | { kind: 'stop' };

export type ClientsAnswer =
  | { kind: 'connected'; connected: number; failures: string[] }
  | { kind: 'progress'; received: number }
  | { kind: 'report'; received: number; lostAccepted: number; duplicates: number; closedEarly: number };

/**
 * A json.webpubsub.azure.v1 client that marks the sequence numbers it receives. A byte per expected
 * message instead of a Set: 1,000 clients × 6,000 messages fit in 6 MB, where Sets took over 100 MB.
 */
class CountingClient {
  received = 0;
  duplicates = 0;
  closedEarly = false;
  private constructor(
    readonly socket: WebSocket,
    readonly seen: Uint8Array,
  ) {}

  static connect(url: string, timeoutMs: number, expectedMessages: number): Promise<CountingClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, 'json.webpubsub.azure.v1');
      const client = new CountingClient(socket, new Uint8Array(expectedMessages));
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error('connect timed out'));
      }, timeoutMs);
      socket.on('message', (raw: Buffer) => {
        const message = JSON.parse(raw.toString('utf8')) as { type?: string; event?: string; data?: unknown };
        if (message.type === 'system' && message.event === 'connected') {
          clearTimeout(timer);
          resolve(client);
        } else if (message.type === 'message' && typeof message.data === 'string') {
          client.mark(Number(message.data));
        }
      });
      socket.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`upgrade refused: ${res.statusCode ?? 0}`));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('close', () => {
        client.closedEarly = true;
      });
    });
  }

  private mark(sequence: number): void {
    // A sequence outside what was announced is a message nobody sent: count it as a duplicate, never drop it.
    if (!Number.isInteger(sequence) || sequence < 0 || sequence >= this.seen.length) {
      this.duplicates += 1;
      return;
    }
    if (this.seen[sequence] === 1) {
      this.duplicates += 1;
      return;
    }
    this.seen[sequence] = 1;
    this.received += 1;
  }
}

const clients: CountingClient[] = [];

function answer(message: ClientsAnswer): void {
  process.send?.(message);
}

async function handle(request: ClientsRequest): Promise<void> {
  switch (request.kind) {
    case 'connect': {
      const outcomes = await Promise.allSettled(
        request.urls.map((url) => CountingClient.connect(url, request.timeoutMs, request.expectedMessages)),
      );
      const failures: string[] = [];
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') clients.push(outcome.value);
        else failures.push(String(outcome.reason));
      }
      answer({ kind: 'connected', connected: clients.length, failures });
      return;
    }
    case 'progress':
      answer({ kind: 'progress', received: clients.reduce((sum, client) => sum + client.received, 0) });
      return;
    case 'report': {
      let lostAccepted = 0;
      for (const client of clients) {
        for (const sequence of request.accepted) if (client.seen[sequence] !== 1) lostAccepted += 1;
      }
      answer({
        kind: 'report',
        received: clients.reduce((sum, client) => sum + client.received, 0),
        lostAccepted,
        duplicates: clients.reduce((sum, client) => sum + client.duplicates, 0),
        closedEarly: clients.filter((client) => client.closedEarly).length,
      });
      return;
    }
    case 'stop':
      for (const client of clients) client.socket.terminate();
      process.disconnect();
      return;
  }
}

process.on('message', (request: ClientsRequest) => {
  handle(request).catch((error: unknown) => {
    console.error('load clients:', error);
    process.exit(1);
  });
});
// The parent gone (finished, killed or crashed) means nobody will read our figures.
process.once('disconnect', () => process.exit(0));
