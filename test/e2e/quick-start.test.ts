import {
  WebPubSubClient,
  type OnGroupDataMessageArgs,
  type OnServerDataMessageArgs,
} from '@azure/web-pubsub-client';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { buildIfStale, cleanEnv, negotiate, RawChatClient, signIn } from './support';

/**
 * The README quick start, as a person runs it: `npm start` (here its entry, dist/dev/start.js, built first
 * when the build is older than the sources) as its own process on free ports, then what the banner tells
 * them to do: open the page, sign in, negotiate, connect with @azure/web-pubsub-client (as the page does),
 * chat, push a notification with the curl line's request; SIGTERM stops everything with exit code 0.
 */
const ROOT = join(__dirname, '..', '..');
const START = join(ROOT, 'dist', 'dev', 'start.js');

let child: ChildProcessByStdio<null, Readable, Readable> | undefined;
let stdout = '';
let stderr = '';
const clients: WebPubSubClient[] = [];

beforeAll(async () => {
  await buildIfStale(ROOT);
}, 120_000);

afterAll(() => {
  for (const client of clients) client.stop();
  if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function waitForStdout(pattern: RegExp, exited: Promise<unknown>): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = pattern.exec(stdout);
      if (match) {
        child?.stdout.off('data', check);
        resolve(match);
      }
    };
    child?.stdout.on('data', check);
    void exited.then(() =>
      reject(new Error(`npm start exited before printing ${pattern}\n${stdout}${stderr}`)),
    );
    check();
  });
}

/**
 * Starts `npm start`'s entry with `args` and waits for its banner to end; resolves with the process, the
 * host's port and the process's exit (code, signal).
 */
async function startStack(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{
  stack: ChildProcessByStdio<null, Readable, Readable>;
  port: string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}> {
  stdout = '';
  stderr = '';
  const stack = spawn(process.execPath, [START, '--port', '0', '--emulator-port', '0', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = stack;
  stack.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  stack.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(stack, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const [, port = ''] = await waitForStdout(
    /Local Functions host listening on http:\/\/localhost:(\d+)\n/,
    exited,
  );
  await waitForStdout(/Press Ctrl\+C to stop/, exited);
  return { stack, port, exited };
}

async function connectClient(userId: string, url: string) {
  const client = new WebPubSubClient(url, { keepAliveIntervalInMs: 0, keepAliveTimeoutInMs: 0 });
  clients.push(client);
  const group: OnGroupDataMessageArgs[] = [];
  const server: OnServerDataMessageArgs[] = [];
  const waiters: (() => void)[] = [];
  const notify = (): void => waiters.splice(0).forEach((waiter) => waiter());
  client.on('group-message', (event) => {
    group.push(event);
    notify();
  });
  client.on('server-message', (event) => {
    server.push(event);
    notify();
  });
  await client.start();
  /**
   * A user event and its reply: the ack that resolves sendEvent carries no data; the handler's reply is the
   * server message that arrives just before it (as the page reads it too).
   */
  const ask = async (event: string, data: Record<string, string>): Promise<unknown> => {
    const from = server.length;
    await client.sendEvent(event, data, 'json', { fireAndForget: false });
    return server
      .slice(from)
      .find((message) => typeof (message.message.data as { ok?: unknown }).ok === 'boolean')?.message.data;
  };
  const until = async (test: () => boolean): Promise<void> => {
    while (!test()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { userId, client, group, server, until, ask };
}

describe('npm start (the README quick start)', () => {
  it('starts the stack, serves the page, signs in, negotiates, chats, pushes and stops cleanly on SIGTERM', async () => {
    const { stack, port, exited } = await startStack([], cleanEnv());
    const [, emulatorPort] = await waitForStdout(/Web PubSub emulator: http:\/\/localhost:(\d+)/, exited);
    const base = `http://127.0.0.1:${port}`;
    expect(Number(emulatorPort)).toBeGreaterThan(0);
    expect(stdout).toContain(`Demo page:  http://localhost:${port}/`);
    expect(stdout).toContain(`events -> http://127.0.0.1:${port}/api/webpubsub/events)`);
    expect(stdout).toContain(`Connection string: Endpoint=http://localhost:${emulatorPort};AccessKey=`);
    expect(stdout).toContain(
      `curl -X POST -H 'content-type: application/json' -d '{"title":"Deploy","text":"v2 is live"}' http://localhost:${port}/api/hubs/chat/messages`,
    );

    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      serviceMode: 'key',
      endpoint: `http://localhost:${emulatorPort}`,
      // The quick start signs in through the development issuer: bearer tokens, as in production.
      negotiateIdentity: ['bearer'],
    });

    // The page (or, before `npm run build:web`, the page saying how to build it).
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toMatch(/<html/i);

    // Sign in and negotiate as the page does; staff is outside the local policy.
    const aliceToken = await signIn(base, 'alice');
    const bobToken = await signIn(base, 'bob');
    const refused = await fetch(`${base}/api/negotiate?groups=staff`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const alice = await connectClient(
      'alice',
      (await negotiate(base, aliceToken, ['lobby', 'room.general'])).url,
    );
    const bob = await connectClient('bob', (await negotiate(base, bobToken, ['lobby'])).url);

    // Bob joins room.general with the join event and sees Alice there.
    expect(await bob.ask('join', { room: 'room.general' })).toEqual({
      ok: true,
      room: 'room.general',
      members: ['alice', 'bob'],
    });
    expect(await bob.ask('join', { room: 'staff' })).toEqual({ ok: false, error: 'forbidden' });

    const sent = await alice.ask('message', { room: 'room.general', text: 'hi bob' });
    expect(sent).toEqual({ ok: true, id: expect.any(String) });
    const { id } = sent as { id: string };
    await bob.until(() => bob.group.some((event) => (event.message.data as { id?: string }).id === id));
    expect(
      bob.group.find((event) => (event.message.data as { id?: string }).id === id)?.message,
    ).toMatchObject({
      group: 'room.general',
      dataType: 'json',
      data: { type: 'message', id, room: 'room.general', from: 'alice', text: 'hi bob' },
    });

    // The banner's curl line, as a fetch.
    const pushed = await fetch(`${base}/api/hubs/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"title":"Deploy","text":"v2 is live"}',
    });
    expect(pushed.status).toBe(202);
    for (const user of [alice, bob]) {
      await user.until(() =>
        user.server.some((event) => (event.message.data as { title?: string }).title === 'Deploy'),
      );
    }

    for (const client of clients) client.stop();
    stack.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(stdout).toContain('SIGTERM: stopping the local host');
    await expect(fetch(`${base}/api/health`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${emulatorPort}/api/health`)).rejects.toThrow();
  }, 60_000);
});

describe('npm start with the service set explicitly', () => {
  it('points the host at that service, starts no emulator and says so', async () => {
    const endpoint = 'https://myresource.webpubsub.azure.com';
    const env = {
      ...cleanEnv(),
      WebPubSubConnectionString: `Endpoint=${endpoint};AccessKey=${'k'.repeat(44)};Version=1.0;`,
    };
    const { stack, port, exited } = await startStack([], env);
    expect(stdout).toContain(
      `Web PubSub: ${endpoint}   (set by WebPubSub settings in the environment; no emulator started)`,
    );
    expect(stdout).not.toContain('Web PubSub emulator:');
    // The key is a secret: never in the banner.
    expect(stdout).not.toContain('k'.repeat(44));
    const health = await fetch(`http://127.0.0.1:${port}/api/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', endpoint });
    stack.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  }, 30_000);
});

describe('npm start --function-key', () => {
  it('gives the emulator the key, so events pass the host key check, and the push API wants it', async () => {
    const { stack, port, exited } = await startStack(['--function-key', 'local-key'], cleanEnv());
    expect(stdout).toContain(`events -> http://127.0.0.1:${port}/api/webpubsub/events)`);
    expect(stdout).not.toContain('local-key');
    const base = `http://127.0.0.1:${port}`;
    const { url } = await negotiate(base, await signIn(base, 'keyed'), ['lobby']);
    const client = await RawChatClient.connect('keyed', url);
    expect(await client.event('message', { room: 'lobby', text: 'through the key' })).toMatchObject({
      ok: true,
    });
    await client.close();
    const push = (headers: Record<string, string>) =>
      fetch(`${base}/api/hubs/chat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"title":"t"}',
      });
    expect((await push({})).status).toBe(401);
    expect((await push({ 'x-functions-key': 'local-key' })).status).toBe(202);
    stack.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  }, 30_000);
});
