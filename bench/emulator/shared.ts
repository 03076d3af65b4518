import { CPU_USAGE_QUERY } from '../lib/ipc';

/** The fan-out benchmark's fixed facts, shared by the driver and its child processes. */
export const BENCH_KEY = 'bench-access-key-0123456789-abcdefghijklmnopqrstuvwxyz';
export const PAYLOAD_TEXT = 'x'.repeat(1024);
/** What a json.webpubsub.azure.v1 client receives for PAYLOAD_TEXT sent as text/plain to the hub. */
export const JSON_FRAME = `{"type":"message","from":"server","dataType":"text","data":"${PAYLOAD_TEXT}"}`;
/** The reliable protocol adds `,"sequenceId":n` before the closing brace. */
export const RELIABLE_FRAME_PREFIX = `${JSON_FRAME.slice(0, -1)},"sequenceId":`;

/** Parent -> client process. */
export interface OpenClients {
  type: 'open';
  url: string;
  protocol: string | undefined;
  count: number;
  /** JSON protocols start with a `connected` message, which is not a broadcast. */
  skipFirst: boolean;
  /** Reliable clients acknowledge every this many messages (0: never). */
  ackEvery: number;
  /** The frame every client must receive first (reliable: its prefix). */
  expected: string;
  expectedIsPrefix: boolean;
}

/** Client process -> parent. */
export type ClientReport =
  { type: 'ready' } | { type: 'done'; broadcast: number; at: string } | { type: 'error'; message: string };

/** A server child's side of the CPU-usage query (see bench/lib/child-server.ts). */
export function answerCpuQueries(): void {
  process.on('message', (message) => {
    if (message === CPU_USAGE_QUERY) process.send?.(process.cpuUsage(), undefined, {}, () => {});
  });
}
