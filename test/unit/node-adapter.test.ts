import { once } from 'node:events';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeCoreResponse } from '../../src/http/node-adapter';
import type { CoreResponse } from '../../src/http/types';

interface Received {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let port: number;
let next: CoreResponse;

beforeAll(async () => {
  server = createServer((_req, res) => writeCoreResponse(res, next));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

/** Raw bytes as they came off the wire, so a wrong Content-Length or a stray byte shows. */
async function serve(response: CoreResponse, method = 'GET'): Promise<Received> {
  next = response;
  const req = httpRequest({ host: '127.0.0.1', port, method, path: '/', agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(res, 'end');
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

describe('writeCoreResponse', () => {
  it('sends a text body with its length in bytes, not characters', async () => {
    const text = JSON.stringify({ greeting: 'héllo 👋 – ünïcode' });
    const received = await serve({
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-trace': 'a' },
      body: text,
    });
    expect(received.status).toBe(200);
    expect(received.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(received.headers['x-trace']).toBe('a');
    expect(received.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    expect(received.headers['transfer-encoding']).toBeUndefined();
    expect(received.body.toString('utf8')).toBe(text);
  });

  it('sends a binary body byte for byte', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const received = await serve({
      status: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(received.headers['content-length']).toBe('256');
    expect([...received.body]).toEqual([...bytes]);
  });

  it('answers a response without a body with Content-Length 0', async () => {
    const received = await serve({ status: 401, headers: { 'www-authenticate': 'Bearer' } });
    expect(received.status).toBe(401);
    expect(received.headers['content-length']).toBe('0');
    expect(received.headers['www-authenticate']).toBe('Bearer');
    expect(received.body.length).toBe(0);
  });

  it('keeps the headers of a 204 and sends no body', async () => {
    const received = await serve({ status: 204, headers: { 'ce-connectionstate': 'e30=' } });
    expect(received.status).toBe(204);
    expect(received.headers['ce-connectionstate']).toBe('e30=');
    expect(received.body.length).toBe(0);
  });

  it('answers HEAD with the length of the body it does not send', async () => {
    const text = 'the body a GET would get';
    const received = await serve(
      { status: 200, headers: { 'content-type': 'text/plain' }, body: text },
      'HEAD',
    );
    expect(received.headers['content-length']).toBe(String(text.length));
    expect(received.body.length).toBe(0);
  });

  it('serves consecutive responses on one keep-alive connection without mixing them', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const bodies = ['first', '', 'third – ünïcode'];
      const seen: string[] = [];
      for (const body of bodies) {
        next = { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
        const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent });
        req.end();
        const [res] = (await once(req, 'response')) as [IncomingMessage];
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        await once(res, 'end');
        seen.push(Buffer.concat(chunks).toString('utf8'));
      }
      expect(seen).toEqual(bodies);
    } finally {
      agent.destroy();
    }
  });
});
