import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { answerCpuQueries } from '../emulator/shared';

// The baseline: a bare `ws` server that broadcasts the body of POST /broadcast, as one text frame, to every
// connected client. It does the least a fan-out can do (one buffer, one send per socket), so the emulator's
// ratio to it is the cost of everything the emulator adds: REST auth and routing, envelopes, registry,
// per-connection limits.
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/broadcast') {
      res.writeHead(404).end();
      return;
    }
    const frame = Buffer.concat(chunks);
    for (const client of wss.clients) client.send(frame, { binary: false });
    res.writeHead(204).end();
  });
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
answerCpuQueries();
const stop = (): void => {
  for (const client of wss.clients) client.terminate();
  server.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
