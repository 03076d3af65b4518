import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';

/**
 * Helpers for the end-to-end tests: sign in with the local host's development issuer, negotiate, and a
 * raw `ws` client speaking json.webpubsub.azure.v1 (the protocol's documented JSON messages), light enough
 * to run hundreds at once.
 */
export async function signIn(baseUrl: string, user: string): Promise<string> {
  const response = await fetch(`${baseUrl}/.dev-issuer/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: user, name: user }),
  });
  if (response.status !== 200)
    throw new Error(`sign-in of ${user}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

export interface Negotiated {
  url: string;
  userId: string;
  groups: string[];
}

export async function negotiate(
  baseUrl: string,
  token: string,
  groups: readonly string[],
): Promise<Negotiated> {
  const query = groups.length > 0 ? `?groups=${encodeURIComponent(groups.join(','))}` : '';
  const response = await fetch(`${baseUrl}/api/negotiate${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) throw new Error(`negotiate: ${response.status} ${await response.text()}`);
  return (await response.json()) as Negotiated;
}

/** A message as json.webpubsub.azure.v1 delivers it. */
export interface Incoming {
  type: string;
  from?: string;
  group?: string;
  event?: string;
  dataType?: string;
  data?: unknown;
  ackId?: number;
  success?: boolean;
  connectionId?: string;
  error?: { name: string; message: string };
}

export class RawChatClient {
  readonly received: Incoming[] = [];
  connectionId = '';
  private nextAckId = 1;
  private listeners: ((message: Incoming) => void)[] = [];
  private pending:
    | { ackId: number; replies: unknown[]; done: (reply: unknown) => void; fail: (e: Error) => void }
    | undefined;

  private constructor(
    readonly userId: string,
    private readonly socket: WebSocket,
  ) {
    socket.on('message', (raw: Buffer) => this.onMessage(JSON.parse(raw.toString('utf8')) as Incoming));
  }

  static async connect(userId: string, url: string): Promise<RawChatClient> {
    const socket = new WebSocket(url, 'json.webpubsub.azure.v1');
    const client = new RawChatClient(userId, socket);
    const connected = client.next((message) => message.type === 'system' && message.event === 'connected');
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
    });
    client.connectionId = (await connected).connectionId ?? '';
    return client;
  }

  private onMessage(message: Incoming): void {
    const pending = this.pending;
    if (pending !== undefined && message.type === 'ack' && pending.ackId === message.ackId) {
      const { replies, done, fail } = pending;
      this.pending = undefined;
      if (message.success === true) done(replies[0]);
      else fail(new Error(`event failed: ${JSON.stringify(message.error)}`));
      return;
    }
    if (message.type === 'message' && message.from === 'server' && this.pending) {
      this.pending.replies.push(message.data);
    }
    this.received.push(message);
    for (const listener of [...this.listeners]) listener(message);
  }

  /** The first message (already received or still to come) that matches. */
  next(match: (message: Incoming) => boolean): Promise<Incoming> {
    const found = this.received.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const listener = (message: Incoming): void => {
        if (!match(message)) return;
        this.listeners.splice(this.listeners.indexOf(listener), 1);
        resolve(message);
      };
      this.listeners.push(listener);
    });
  }

  /** Sends a user event with an ackId and resolves with the server's reply (the message before the ack). */
  event(name: string, data: unknown): Promise<unknown> {
    if (this.pending) throw new Error('one event at a time per client');
    const ackId = this.nextAckId++;
    return new Promise((done, fail) => {
      this.pending = { ackId, replies: [], done, fail };
      this.socket.send(JSON.stringify({ type: 'event', event: name, dataType: 'json', data, ackId }));
    });
  }

  /** The `type: "message"` chat messages received in group `room` (or any group). */
  chatMessages(): { group: string | undefined; data: Record<string, unknown> }[] {
    return this.received
      .filter(
        (message) =>
          message.from === 'group' && (message.data as { type?: string } | undefined)?.type === 'message',
      )
      .map((message) => ({ group: message.group, data: message.data as Record<string, unknown> }));
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function inBatches<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** True when some source under src/, dev/ or emulator/ is newer than its compiled file (or has none). */
export function buildIsStale(ROOT: string): boolean {
  const stale = (dir: string): boolean =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).some((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return stale(path);
      if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) return false;
      const built = join(ROOT, 'dist', path.replace(/\.ts$/, '.js'));
      return !existsSync(built) || statSync(built).mtimeMs < statSync(join(ROOT, path)).mtimeMs;
    });
  return ['src', 'dev', 'emulator'].some(stale);
}

/** Compiles the app (tsconfig.build.json) when buildIsStale says the tests would run an old build. */
export async function buildIfStale(ROOT: string): Promise<void> {
  if (buildIsStale(ROOT))
    await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
}

/** This process's environment without app settings: a started stack must find its own defaults. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(WebPubSub|Negotiate|PushApi|Cors|AZURE_)/.test(name)) env[name] = value;
  }
  return env;
}
