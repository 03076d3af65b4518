import { WebPubSubClient } from '@azure/web-pubsub-client';
import type { ClientReport, OpenClients } from './shared';

/**
 * A client process of the end-to-end benchmark: `count` @azure/web-pubsub-client clients (the SDK's default
 * json.reliable.webpubsub.azure.v1 protocol, acknowledgements and all) on one client access URL. For each
 * message number it reports the moment the last of its clients has that message (process.hrtime, which is
 * CLOCK_MONOTONIC and so comparable with the parent's clock on Linux).
 */
function report(message: ClientReport): void {
  if (process.connected) process.send?.(message, undefined, {}, () => {});
}

async function open(command: OpenClients): Promise<void> {
  const reached = new Map<number, number>();
  const clients: WebPubSubClient[] = [];
  for (let i = 0; i < command.count; i++) {
    const client = new WebPubSubClient(command.url, { autoReconnect: false });
    client.on('server-message', (event) => {
      const data = event.message.data;
      if (typeof data !== 'string') {
        report({ type: 'error', message: `a ${event.message.dataType} message instead of text` });
        return;
      }
      const number = Number(data.slice(0, data.indexOf('|')));
      const count = (reached.get(number) ?? 0) + 1;
      if (count === command.count) {
        reached.delete(number);
        report({ type: 'done', message: number, at: process.hrtime.bigint().toString() });
      } else {
        reached.set(number, count);
      }
    });
    clients.push(client);
  }
  // In batches, so 500 handshakes do not all time out together on a loaded machine.
  for (let i = 0; i < clients.length; i += 50) {
    await Promise.all(clients.slice(i, i + 50).map((client) => client.start()));
  }
  process.once('disconnect', () => {
    for (const client of clients) client.stop();
    setImmediate(() => process.exit(0));
  });
  report({ type: 'ready' });
}

process.once('message', (command: OpenClients) => {
  open(command).catch((error: unknown) => {
    report({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
});
