import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromIncomingMessage, writeCoreResponse } from '../../src/http/node-adapter';
import type { CoreRequest, CoreResponse } from '../../src/http/types';
import { CPU_USAGE_QUERY } from './ipc';

/**
 * The child side of startChildServer: listen on a free loopback port, announce it as the first stdout line,
 * answer CPU-usage queries, and exit normally on SIGTERM so that --cpu-prof gets to write its profile.
 * The listener is built once the port is known (a handler may want its absolute base URL); nobody can call
 * before the port is printed.
 */
export function serve(createListener: (baseUrl: string) => RequestListener): void {
  const server = createServer();
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    server.on('request', createListener(`http://127.0.0.1:${port}`));
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  process.on('message', (message) => {
    if (message === CPU_USAGE_QUERY) process.send?.(process.cpuUsage());
  });
  const stop = (): void => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // A parent that dies without closing us (killed, crashed) must not leave a server behind.
  process.once('disconnect', stop);
}

/** The path part of a request target, as Express's req.path has it. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Serves one of our host-agnostic handlers at `path` through the node adapter, as a deployment on plain
 * node:http would: 404 elsewhere, 500 if the handler itself fails.
 */
export function serveCoreHandler(
  path: string,
  handler: (request: CoreRequest) => Promise<CoreResponse>,
): void {
  serve((baseUrl) => (req, res) => {
    if (pathOf(req.url) !== path) {
      res.writeHead(404).end();
      return;
    }
    handler(fromIncomingMessage(req, baseUrl)).then(
      (response) => writeCoreResponse(res, response),
      () => res.writeHead(500).end(),
    );
  });
}
