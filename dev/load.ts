import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { ClientsAnswer, ClientsRequest } from './load-clients';
import type { EmulatorAnswer, EmulatorRequest } from './load-emulator';
import { hubsFromSettings, startLocalStack, type LocalStack } from './stack';

/**
 * `npm run load`: the load figures of issue 9, on loopback only, in three processes: the local Functions
 * host (our webhook, negotiate, push API and chat app) with the load generator in this one, the emulator in
 * another (dev/load-emulator.ts), as the service is apart from the host, and the WebSocket clients in a
 * third (dev/load-clients.ts). Three phases, each counted exactly:
 *
 *   1. `--clients` (1,000) WebSocket connects at once, each through emulator -> our webhook (connect and
 *      connected events), with a client URL from our negotiate: failures must be zero;
 *   2. `--negotiates` (10,000) negotiate calls at `--concurrency` (50): errors must be zero;
 *   3. a push of `--rate` (100) messages/s through our push API (sendToAll) to every client for `--seconds`
 *      (60): every client must receive every message, once.
 *
 * It stops by itself: every phase has its own deadline and the whole run a hard one. Exit code 0 when every
 * figure is clean, 1 otherwise. Not a benchmark (no baseline to divide by): figures go in the PR note.
 */
interface Options {
  clients: number;
  negotiates: number;
  concurrency: number;
  rate: number;
  seconds: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '1000' },
      negotiates: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '50' },
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '60' },
    },
    strict: true,
  });
  const number = (name: keyof typeof values, min: number, max: number): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    }
    return value;
  };
  return {
    clients: number('clients', 1, 5000),
    negotiates: number('negotiates', 0, 100_000),
    concurrency: number('concurrency', 1, 500),
    rate: number('rate', 1, 1000),
    seconds: number('seconds', 1, 600),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function summary(latencies: number[]): string {
  latencies.sort((a, b) => a - b);
  return `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${(latencies.at(-1) ?? 0).toFixed(1)} ms`;
}

async function signIn(stack: LocalStack): Promise<string> {
  const response = await fetch(`${stack.url}/.dev-issuer/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: 'load-user', name: 'Load' }),
  });
  if (response.status !== 200) throw new Error(`sign-in: ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function negotiate(stack: LocalStack, jwt: string): Promise<string> {
  const response = await fetch(`${stack.url}/api/negotiate`, { headers: { authorization: `Bearer ${jwt}` } });
  if (response.status !== 200) throw new Error(`negotiate: ${response.status}`);
  return ((await response.json()) as { url: string }).url;
}

const STAND_IN_CONNECTION_STRING =
  'Endpoint=http://127.0.0.1:9;AccessKey=replaced-before-the-first-request;Version=1.0;';

function askEmulator(child: ChildProcess, request: EmulatorRequest): Promise<EmulatorAnswer> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      reject(new Error(`the emulator's process exited (${code ?? 'signal'}) before it was ready`));
    };
    child.once('exit', onExit);
    child.once('message', (answer: EmulatorAnswer) => {
      child.off('exit', onExit);
      resolve(answer);
    });
    child.send(request);
  });
}

/** The clients' process, asked one question at a time. */
class ClientsProcess {
  private constructor(private readonly child: ChildProcess) {}

  static start(): ClientsProcess {
    return new ClientsProcess(fork(join(__dirname, 'load-clients.js'), [], { stdio: 'inherit' }));
  }

  async ask<K extends ClientsAnswer['kind']>(
    request: ClientsRequest,
    kind: K,
  ): Promise<Extract<ClientsAnswer, { kind: K }>> {
    const answered = new Promise<Extract<ClientsAnswer, { kind: K }>>((resolve, reject) => {
      const onMessage = (message: ClientsAnswer): void => {
        if (message.kind !== kind) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(message as Extract<ClientsAnswer, { kind: K }>);
      };
      const onExit = (code: number | null): void => {
        this.child.off('message', onMessage);
        reject(new Error(`the clients' process exited (${code ?? 'signal'}) before answering ${kind}`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
    this.child.send(request);
    return answered;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    if (this.child.connected) this.child.send({ kind: 'stop' } satisfies ClientsRequest);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const run = options();
  const hardDeadline = setTimeout(
    () => {
      console.error('load: the hard deadline passed; stopping');
      process.exit(2);
    },
    (run.seconds + 300) * 1000,
  );
  hardDeadline.unref();

  const functionKey = randomBytes(16).toString('hex');
  // The host starts first, with a stand-in service setting (so the stack starts no emulator of its own);
  // the emulator needs the host's port for its event handler, and the app reads its settings only on its
  // first request, by which time the emulator's connection string has replaced the stand-in.
  const stack = await startLocalStack({
    port: 0,
    hostname: '127.0.0.1',
    functionKey,
    log: () => {},
    env: { WebPubSubConnectionString: STAND_IN_CONNECTION_STRING },
  });
  const prefix = stack.host.routePrefix === '' ? '' : `/${stack.host.routePrefix}`;
  const emulatorProcess = fork(join(__dirname, 'load-emulator.js'), [], { stdio: 'inherit' });
  const clientsProcess = ClientsProcess.start();
  let clean = true;
  try {
    const { connectionString } = await askEmulator(emulatorProcess, {
      hubs: hubsFromSettings(),
      eventHandlerUrl: `http://127.0.0.1:${stack.host.port}${prefix}/webpubsub/events?code=${functionKey}`,
    });
    process.env.WebPubSubConnectionString = connectionString;
    const jwt = await signIn(stack);

    // 1. Concurrent connects.
    const urls = await Promise.all(Array.from({ length: run.clients }, () => negotiate(stack, jwt)));
    const total = run.rate * run.seconds;
    let started = performance.now();
    const { connected, failures } = await clientsProcess.ask(
      { kind: 'connect', urls, timeoutMs: 60_000, expectedMessages: total },
      'connected',
    );
    const connectMs = performance.now() - started;
    console.log(
      `connects: ${run.clients} at once -> ${connected} connected, ${failures.length} failed, in ${(connectMs / 1000).toFixed(1)} s`,
    );
    if (failures.length > 0) {
      clean = false;
      console.log(`  first failure: ${failures[0] ?? ''}`);
    }

    // 2. Negotiates at a fixed concurrency.
    const latencies: number[] = [];
    let errors = 0;
    let next = 0;
    started = performance.now();
    await Promise.all(
      Array.from({ length: run.concurrency }, async () => {
        while (next < run.negotiates) {
          next += 1;
          const at = performance.now();
          try {
            await negotiate(stack, jwt);
          } catch {
            errors += 1;
          }
          latencies.push(performance.now() - at);
        }
      }),
    );
    const negotiateS = (performance.now() - started) / 1000;
    console.log(
      `negotiates: ${run.negotiates} at concurrency ${run.concurrency} -> ${errors} errors, ${(run.negotiates / negotiateS).toFixed(0)}/s, ${summary(latencies)}`,
    );
    if (errors > 0) clean = false;

    // 3. Sustained push to every client. The stack's event-loop delay tells a slow push that waited behind
    // the fan-out (this process) from one the service path itself made slow.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const pushUrl = `${stack.url}/api/hubs/chat/messages?code=${functionKey}`;
    const pushLatencies: number[] = [];
    let pushErrors = 0;
    const statuses = new Map<string, number>();
    const accepted = new Set<number>();
    const inFlight: Promise<void>[] = [];
    started = performance.now();
    for (let sequence = 0; sequence < total; sequence += 1) {
      // Paced against the start, so a slow tick does not lower the rate.
      const due = started + (sequence * 1000) / run.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const at = performance.now();
      inFlight.push(
        fetch(pushUrl, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: String(sequence),
        }).then(
          async (response) => {
            await response.arrayBuffer();
            statuses.set(String(response.status), (statuses.get(String(response.status)) ?? 0) + 1);
            if (response.status === 202) accepted.add(sequence);
            else pushErrors += 1;
            pushLatencies.push(performance.now() - at);
          },
          () => {
            statuses.set('network', (statuses.get('network') ?? 0) + 1);
            pushErrors += 1;
          },
        ),
      );
    }
    await Promise.all(inFlight);
    const pushS = (performance.now() - started) / 1000;
    loopDelay.disable();
    // Wait for delivery to finish: until every client has everything, or nothing moved for 10 s.
    const expected = total * connected;
    const received = async (): Promise<number> =>
      (await clientsProcess.ask({ kind: 'progress' }, 'progress')).received;
    let last = -1;
    let stillSince = performance.now();
    while ((await received()) < expected && performance.now() - stillSince < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const now = await received();
      if (now !== last) {
        last = now;
        stillSince = performance.now();
      }
    }
    const drainS = (performance.now() - started) / 1000 - pushS;
    // A push we answered 202 must reach every client: these are the losses that count.
    const report = await clientsProcess.ask({ kind: 'report', accepted: [...accepted] }, 'report');
    const { lostAccepted, duplicates, closedEarly: dropped } = report;
    const got = report.received;
    console.log(
      `push: ${total} messages at ${run.rate}/s for ${run.seconds} s (sent in ${pushS.toFixed(1)} s, deliveries settled ${drainS.toFixed(1)} s after the last push) to ${connected} clients -> ` +
        `${pushErrors} push errors (statuses ${JSON.stringify(Object.fromEntries(statuses))}), ` +
        `${lostAccepted} deliveries of accepted pushes lost, ${expected - got} of ${expected} deliveries missing in all, ${duplicates} duplicates, ` +
        `${dropped} sockets closed; push ${summary(pushLatencies)}; ` +
        `stack event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms`,
    );
    if (pushErrors > 0 || got !== expected || duplicates > 0 || dropped > 0) clean = false;
  } finally {
    await clientsProcess.stop();
    if (emulatorProcess.connected) emulatorProcess.disconnect();
    await stack.close();
  }
  console.log(clean ? 'load: clean' : 'load: FAILURES (see above)');
  process.exitCode = clean ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
