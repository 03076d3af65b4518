import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createTokenService } from './auth';
import { ClientEndpoint } from './client/endpoint';
import { resolveConfig, type EmulatorOptions } from './config';
import { ConnectionManager } from './lifecycle';
import { Registry } from './registry';
import { RestApi } from './rest/api';
import { EventDispatcher } from './upstream/dispatcher';
import { HttpClient } from './upstream/http-client';

export interface Emulator {
  /** The bound port. */
  port: number;
  /** `http://localhost:<port>` (or the specific host it listens on). */
  endpoint: string;
  /** `Endpoint=<endpoint>;AccessKey=<primary key>;Version=1.0;` */
  connectionString: string;
  /** `ws://…/client/hubs/{hub}` */
  clientEndpoint: string;
  /** `…/api/health` (HEAD or GET). */
  healthUrl: string;
  /** Closes every client (each gets its disconnected event) and stops listening. */
  close(): Promise<void>;
}

/** Wildcard and loopback binds are reachable as localhost; a specific address is shown as it is. */
function displayHost(host: string): string {
  const lower = host.toLowerCase();
  if (['0.0.0.0', '::', '[::]', '127.0.0.1', '::1', '[::1]', 'localhost'].includes(lower)) return 'localhost';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * A local stand-in for Azure Web PubSub on one node:http server: the REST data plane under /api, client
 * WebSockets under /client/hubs/{hub}, and event handlers called as the service calls them. Fails with an
 * EmulatorConfigError, before listening, on any invalid option.
 */
export async function createEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const config = resolveConfig(options);
  const tokens = await createTokenService(config.accessKeys);
  const registry = new Registry();
  const http = new HttpClient();
  const server: Server = createServer();
  let port = config.port;
  const host = displayHost(config.host);
  const authority = (): string => `${host}:${port}`;
  const endpoint = (): string => `http://${authority()}`;
  const dispatcher = new EventDispatcher(config, host.replace(/^\[|\]$/g, ''), http);
  const manager = new ConnectionManager(config, registry, dispatcher);
  const clients = new ClientEndpoint({ config, registry, tokens, dispatcher, manager, authority });
  const rest = new RestApi({ config, registry, tokens, authority, endpoint });

  server.on('request', (req, res) => {
    if (rest.handle(req, res)) return;
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found');
  });
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    clients.handleUpgrade(req, socket, head);
  });

  server.listen(config.port, config.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      http.close();
      throw error;
    }),
  ]);
  port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    port,
    endpoint: endpoint(),
    connectionString: `Endpoint=${endpoint()};AccessKey=${config.accessKeys[0] as string};Version=1.0;`,
    clientEndpoint: `ws://${authority()}/client/hubs/{hub}`,
    healthUrl: `${endpoint()}/api/health`,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        clients.close();
        await manager.shutdown();
        await clients.drain(1000);
        dispatcher.stop();
        http.close();
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
