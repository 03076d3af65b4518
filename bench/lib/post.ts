import { Agent, request } from 'node:http';
import type { LoadRequest } from './load';

export interface LoopbackPoster {
  /** A loopback POST that resolves with the status once the answer has been read. */
  post: (port: number, path: string, headers: Record<string, string>, body: string) => Promise<number>;
  /** Any request, sent the same way. */
  send: (port: number, load: LoadRequest) => Promise<number>;
  /** Closes the pooled connections, so that the servers see their clients leave. */
  close: () => void;
}

/**
 * POSTs over a keep-alive pool of `maxSockets`: the benchmarks keep that many requests in flight and reuse
 * their connections.
 */
export function loopbackPoster(maxSockets: number): LoopbackPoster {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send: LoopbackPoster['send'] = (port, { method, path, headers, body }) =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
  const post: LoopbackPoster['post'] = (port, path, headers, body) =>
    send(port, { method: 'POST', path, headers, body });
  return { post, send, close: () => agent.destroy() };
}
