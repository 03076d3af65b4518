import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loopbackPoster } from '../lib/post';
import { startChildServer, type ChildServer } from '../lib/child-server';
import { interleavedRounds, keepInFlight } from '../lib/rounds';
import { median } from '../lib/stats';
import { BENCH_KEY } from '../emulator/shared';
import type { Benchmark, BenchContext, BenchOutcome, BenchRow } from '../types';
import { E2E_FUNCTION_KEY, E2E_HUB, EMULATOR_PORT_VARIABLE, message, type ClientReport } from './shared';

/**
 * End to end: a server calls our push API (POST /api/hubs/{hub}/messages through the local Functions host,
 * function key checked, the real handler), which calls the emulator's REST API, which fans the 1 KiB message
 * out to 1,000 @azure/web-pubsub-client clients. The baseline is the same message sent straight to the
 * emulator's REST sendToAll, to the same clients, in the same run: the ratio is what the Functions layer
 * costs. A message counts once every one of the 1,000 clients has it.
 */
const CLIENTS = 1000;
const CLIENT_PROCESSES = 2;
const WINDOW = 8;

interface Plan {
  warmupSeconds: number;
  rounds: number;
  roundSeconds: number;
  pacedMessages: number;
}
// 2 paths × (1 s warm-up + 3 rounds × 3 s) + 2 × 60 paced messages + ~10 s to connect 1,000 clients ≈ 40 s.
const FULL: Plan = { warmupSeconds: 1, rounds: 3, roundSeconds: 3, pacedMessages: 60 };
const QUICK: Plan = { warmupSeconds: 0.5, rounds: 1, roundSeconds: 1.5, pacedMessages: 20 };

const PATHS = ['functions', 'direct'] as const;
type PathName = (typeof PATHS)[number];

export const e2eBenchmark: Benchmark = {
  name: 'e2e',
  description:
    'push API → emulator → 1,000 @azure/web-pubsub-client clients: delivery time and messages/s, against REST sendToAll straight to the emulator',
  run: runEndToEnd,
};

interface Pending {
  sentAt: bigint;
  reports: number;
  last: bigint;
  resolve: (latencyMs: number) => void;
}

interface Sample {
  messagesPerSecond: number;
  sent: number;
}

const poster = loopbackPoster(WINDOW);
const post = poster.post;

/** Resident memory of a process (Linux /proc), in bytes; undefined elsewhere. */
function rssOf(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

async function runEndToEnd(context: BenchContext): Promise<BenchOutcome> {
  const plan = context.quick ? QUICK : FULL;
  const pending = new Map<number, Pending>();
  let failure: string | undefined;
  let next = 0;
  const servers: ChildServer[] = [];
  const clients: ChildProcess[] = [];

  function onDone(number: number, at: bigint): void {
    const entry = pending.get(number);
    if (entry === undefined) return;
    entry.reports++;
    if (at > entry.last) entry.last = at;
    if (entry.reports < CLIENT_PROCESSES) return;
    pending.delete(number);
    entry.resolve(Number(entry.last - entry.sentAt) / 1e6);
  }

  try {
    const emulator = await startChildServer('emulator');
    servers.push(emulator);
    process.env[EMULATOR_PORT_VARIABLE] = String(emulator.port);
    const host = await startChildServer('e2e-host', { script: join(__dirname, 'host.js') });
    servers.push(host);

    const restPath = `/api/hubs/${E2E_HUB}/:send?api-version=2024-12-01`;
    const service = new WebPubSubServiceClient(
      `Endpoint=http://127.0.0.1:${emulator.port};AccessKey=${BENCH_KEY};Version=1.0;`,
      E2E_HUB,
      { allowInsecureConnection: true },
    );
    // One token for the whole run, as the emulator benchmark does: the driver must not be what limits the rate.
    const { SignJWT } = await import('jose');
    const restToken = await new SignJWT({ aud: `http://127.0.0.1:${emulator.port}${restPath}` })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(Buffer.from(BENCH_KEY, 'utf8'));
    const send: Record<PathName, (body: string) => Promise<number>> = {
      functions: (body) =>
        post(
          host.port,
          `/api/hubs/${E2E_HUB}/messages`,
          { 'content-type': 'text/plain', 'x-functions-key': E2E_FUNCTION_KEY },
          body,
        ),
      direct: (body) =>
        post(
          emulator.port,
          restPath,
          { 'content-type': 'text/plain', authorization: `Bearer ${restToken}` },
          body,
        ),
    };

    const rssBefore = rssOf(emulator.pid);
    const { url } = await service.getClientAccessToken({ userId: 'bench', expirationTimeInMinutes: 120 });
    context.log(
      `e2e: connecting ${CLIENTS} @azure/web-pubsub-client clients in ${CLIENT_PROCESSES} processes`,
    );
    await Promise.all(
      Array.from({ length: CLIENT_PROCESSES }, async () => {
        const child = fork(join(__dirname, 'clients.js'), [], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        clients.push(child);
        await new Promise<void>((resolve, reject) => {
          child.on('message', (report: ClientReport) => {
            if (report.type === 'ready') resolve();
            else if (report.type === 'error') {
              failure ??= report.message;
              reject(new Error(`e2e clients: ${report.message}`));
            } else onDone(report.message, BigInt(report.at));
          });
          child.once('exit', (code) => reject(new Error(`e2e client process exited (${code})`)));
          child.send({ type: 'open', url, count: CLIENTS / CLIENT_PROCESSES });
        });
      }),
    );
    const rssAfter = rssOf(emulator.pid);

    async function deliver(path: PathName): Promise<number> {
      const number = ++next;
      const done = new Promise<number>((resolve) => {
        pending.set(number, { sentAt: process.hrtime.bigint(), reports: 0, last: 0n, resolve });
      });
      const status = await send[path](message(number));
      if (status !== 202) throw new Error(`e2e ${path}: the send answered ${status}`);
      const latency = await done;
      if (failure !== undefined) throw new Error(`e2e: ${failure}`);
      return latency;
    }

    async function throughput(path: PathName, seconds: number): Promise<Sample> {
      const run = await keepInFlight(WINDOW, seconds, () => deliver(path));
      return { messagesPerSecond: run.completed / run.seconds, sent: run.completed };
    }

    for (const path of PATHS) await throughput(path, plan.warmupSeconds);
    const samples = await interleavedRounds<PathName, Sample>({
      names: PATHS,
      rounds: plan.rounds,
      measure: (path) => throughput(path, plan.roundSeconds),
      describe: (path, sample) => `${path} ${sample.messagesPerSecond.toFixed(1)} msg/s`,
      log: (round, line) => context.log(`e2e: round ${round + 1}/${plan.rounds}: ${line}`),
    });
    const latencies: Record<PathName, number[]> = { functions: [], direct: [] };
    for (let i = 0; i < plan.pacedMessages; i++) {
      for (const path of PATHS) latencies[path].push(await deliver(path));
    }

    const rate = (path: PathName): number => median(samples[path].map((s) => s.messagesPerSecond));
    const pct = (path: PathName, p: number): number => {
      const sorted = [...latencies[path]].sort((a, b) => a - b);
      const value = sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
      return Math.round(value * 10) / 10;
    };
    const perConnection =
      rssBefore === undefined || rssAfter === undefined ? undefined : (rssAfter - rssBefore) / CLIENTS;
    const workload =
      `1 KiB text to ${CLIENTS} @azure/web-pubsub-client clients (json.reliable, ${CLIENT_PROCESSES} processes), ` +
      `${WINDOW} messages in flight, median of ${plan.rounds} × ${plan.roundSeconds} s; p99 = a paced message reaching ` +
      `all ${CLIENTS} clients (${plan.pacedMessages} messages)`;
    const base = { benchmark: 'e2e', workload, unit: 'msg/s' };
    const direct = { name: 'direct REST', value: rate('direct') };
    const rows: BenchRow[] = [
      {
        ...base,
        name: `direct: REST sendToAll to the emulator (p50 ${pct('direct', 50)} ms)`,
        value: direct.value,
        p99Ms: pct('direct', 99),
      },
      {
        ...base,
        name: `ours: push API through the Functions host (p50 ${pct('functions', 50)} ms)`,
        value: rate('functions'),
        p99Ms: pct('functions', 99),
        baseline: direct,
        ratio: rate('functions') / direct.value,
        ...(perConnection === undefined
          ? {}
          : { reference: `emulator RSS ${(perConnection / 1024).toFixed(1)} KiB per connection` }),
      },
    ];
    return {
      rows,
      details: {
        plan,
        clients: CLIENTS,
        window: WINDOW,
        samples,
        latenciesMs: latencies,
        rssBefore,
        rssAfter,
      },
    };
  } finally {
    for (const child of clients) if (child.connected) child.disconnect();
    for (const server of servers.reverse()) await server.close();
    Reflect.deleteProperty(process.env, EMULATOR_PORT_VARIABLE);
  }
}
