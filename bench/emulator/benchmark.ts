import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { loopbackPoster } from '../lib/post';
import { startChildServer, type ChildServer } from '../lib/child-server';
import { interleavedRounds, keepInFlight, type Plan as RoundPlan } from '../lib/rounds';
import { median } from '../lib/stats';
import type { Benchmark, BenchContext, BenchOutcome, BenchRow } from '../types';
import {
  BENCH_KEY,
  JSON_FRAME,
  PAYLOAD_TEXT,
  RELIABLE_FRAME_PREFIX,
  type ClientReport,
  type OpenClients,
} from './shared';

/**
 * Fan-out: one 1 KiB message to 1,000 connected WebSocket clients, as messages delivered per second, for
 * the emulator (REST sendToAll to a hub of json.webpubsub.azure.v1 clients) against a bare `ws` server
 * broadcasting the identical frame to the same number of clients, in one run. Each server runs in its own
 * process and its clients in two more, the same arrangement for both; rounds alternate between them.
 * A broadcast counts once every one of the 1,000 clients has it.
 */
const CLIENTS = 1000;
const CLIENT_PROCESSES = 2;
/** Broadcasts in flight at once in the throughput phase: enough to keep every process busy. */
const WINDOW = 8;
const RELIABLE_ACK_EVERY = 100;

interface Plan extends RoundPlan {
  pacedBroadcasts: number;
}

// 3 targets × (1 s warm-up + 3 rounds × 3 s) + 3 × 100 paced broadcasts + ~10 s of setup ≈ 50 s.
const FULL: Plan = { warmupSeconds: 1, rounds: 3, roundSeconds: 3, pacedBroadcasts: 100 };
const QUICK: Plan = { warmupSeconds: 0.5, rounds: 1, roundSeconds: 1.5, pacedBroadcasts: 30 };

type TargetName = 'bare' | 'json' | 'reliable';
const TARGETS: readonly TargetName[] = ['bare', 'json', 'reliable'];

interface Pending {
  sentAt: bigint;
  reports: number;
  last: bigint;
  resolve: (latencyMs: number) => void;
}

interface Target {
  name: TargetName;
  server: ChildServer;
  clients: ChildProcess[];
  post: () => Promise<number>;
  expectedStatus: number;
  next: number;
  pending: Map<number, Pending>;
  failure: string | undefined;
}

interface Sample {
  messagesPerSecond: number;
  broadcasts: number;
  cpuUsPerBroadcast: number;
}

export const emulatorBenchmark: Benchmark = {
  name: 'emulator',
  description: 'emulator fan-out of 1 KiB to 1,000 clients, messages/s, against a bare ws broadcast',
  run: runFanOut,
};

const poster = loopbackPoster(WINDOW);
const post = poster.post;

async function startClients(target: Target, command: OpenClients): Promise<void> {
  const script = join(__dirname, 'clients.js');
  await Promise.all(
    Array.from({ length: CLIENT_PROCESSES }, async () => {
      const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      target.clients.push(child);
      await new Promise<void>((resolve, reject) => {
        child.on('message', (report: ClientReport) => {
          if (report.type === 'ready') resolve();
          else if (report.type === 'error') {
            target.failure ??= report.message;
            reject(new Error(`${target.name} clients: ${report.message}`));
          } else {
            onDone(target, report.broadcast, BigInt(report.at));
          }
        });
        child.once('exit', (code) => reject(new Error(`${target.name} client process exited (${code})`)));
        child.send({ ...command, count: CLIENTS / CLIENT_PROCESSES });
      });
    }),
  );
}

function onDone(target: Target, broadcast: number, at: bigint): void {
  const pending = target.pending.get(broadcast);
  if (pending === undefined) return;
  pending.reports++;
  if (at > pending.last) pending.last = at;
  if (pending.reports < CLIENT_PROCESSES) return;
  target.pending.delete(broadcast);
  pending.resolve(Number(pending.last - pending.sentAt) / 1e6);
}

/** Sends one broadcast; resolves with its latency once every client has it. */
async function broadcast(target: Target): Promise<number> {
  const number = ++target.next;
  let resolve!: (latencyMs: number) => void;
  const done = new Promise<number>((r) => {
    resolve = r;
  });
  target.pending.set(number, { sentAt: process.hrtime.bigint(), reports: 0, last: 0n, resolve });
  const status = await target.post();
  if (status !== target.expectedStatus) throw new Error(`${target.name}: broadcast answered ${status}`);
  const latency = await done;
  if (target.failure !== undefined) throw new Error(`${target.name}: ${target.failure}`);
  return latency;
}

/** Keeps WINDOW broadcasts in flight for `seconds`; messages delivered per second. */
async function throughput(target: Target, seconds: number): Promise<Sample> {
  const cpuBefore = await target.server.cpuMicros();
  const { completed, seconds: elapsed } = await keepInFlight(WINDOW, seconds, () => broadcast(target));
  const cpu = (await target.server.cpuMicros()) - cpuBefore;
  return {
    messagesPerSecond: (completed * CLIENTS) / elapsed,
    broadcasts: completed,
    cpuUsPerBroadcast: cpu / completed,
  };
}

/** One broadcast at a time: how long until the last of the 1,000 clients has it. */
async function paced(target: Target, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) latencies.push(await broadcast(target));
  return latencies;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function setUp(context: BenchContext): Promise<Record<TargetName, Target>> {
  const profile = (name: string): { nodeArgs: string[] } => ({
    nodeArgs: context.profile.has(name)
      ? ['--cpu-prof', `--cpu-prof-dir=${context.outputDir}/profiles`, `--cpu-prof-name=${name}.cpuprofile`]
      : [],
  });
  const bare = await startChildServer('bare-ws', profile('bare-ws'));
  const emulator = await startChildServer('emulator', profile('emulator'));
  const connectionString = `Endpoint=http://localhost:${emulator.port};AccessKey=${BENCH_KEY};Version=1.0;`;
  const { SignJWT } = await import('jose');
  const make = (name: TargetName, server: ChildServer): Target => ({
    name,
    server,
    clients: [],
    post: () => Promise.resolve(0),
    expectedStatus: 0,
    next: 0,
    pending: new Map(),
    failure: undefined,
  });
  const targets: Record<TargetName, Target> = {
    bare: make('bare', bare),
    json: make('json', emulator),
    reliable: make('reliable', emulator),
  };
  targets.bare.expectedStatus = 204;
  targets.bare.post = () => post(bare.port, '/broadcast', { 'Content-Type': 'text/plain' }, JSON_FRAME);
  for (const name of ['json', 'reliable'] as const) {
    const path = `/api/hubs/${name}/:send?api-version=2024-12-01`;
    // One token for the whole run, signed here: the driver must not be what limits the rate.
    const token = await new SignJWT({ aud: `http://localhost:${emulator.port}${path}` })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(Buffer.from(BENCH_KEY, 'utf8'));
    const headers = { 'Content-Type': 'text/plain', Authorization: `Bearer ${token}` };
    targets[name].expectedStatus = 202;
    targets[name].post = () => post(emulator.port, path, headers, PAYLOAD_TEXT);
  }

  context.log(
    `emulator: connecting ${TARGETS.length} × ${CLIENTS} clients in ${CLIENT_PROCESSES} processes each`,
  );
  await startClients(targets.bare, {
    type: 'open',
    url: `ws://127.0.0.1:${bare.port}/`,
    protocol: undefined,
    count: CLIENTS,
    skipFirst: false,
    ackEvery: 0,
    expected: JSON_FRAME,
    expectedIsPrefix: false,
  });
  for (const [name, protocol] of [
    ['json', 'json.webpubsub.azure.v1'],
    ['reliable', 'json.reliable.webpubsub.azure.v1'],
  ] as const) {
    const service = new WebPubSubServiceClient(connectionString, name, { allowInsecureConnection: true });
    const { url } = await service.getClientAccessToken({ userId: 'bench', expirationTimeInMinutes: 120 });
    await startClients(targets[name], {
      type: 'open',
      url,
      protocol,
      count: CLIENTS,
      skipFirst: true,
      ackEvery: name === 'reliable' ? RELIABLE_ACK_EVERY : 0,
      expected: name === 'reliable' ? RELIABLE_FRAME_PREFIX : JSON_FRAME,
      expectedIsPrefix: name === 'reliable',
    });
  }
  return targets;
}

async function tearDown(targets: Record<TargetName, Target> | undefined): Promise<void> {
  if (targets === undefined) return;
  for (const target of Object.values(targets)) {
    for (const child of target.clients) if (child.connected) child.disconnect();
  }
  await targets.bare.server.close();
  await targets.json.server.close();
  poster.close();
}

async function runFanOut(context: BenchContext): Promise<BenchOutcome> {
  const plan = context.quick ? QUICK : FULL;
  let targets: Record<TargetName, Target> | undefined;
  let samples: Record<TargetName, Sample[]>;
  const latencies: Record<TargetName, number[]> = { bare: [], json: [], reliable: [] };
  try {
    targets = await setUp(context);
    for (const name of TARGETS) await throughput(targets[name], plan.warmupSeconds);
    context.log(
      `emulator: every client got the expected frame; ${plan.rounds} rounds of ${plan.roundSeconds} s`,
    );
    const running = targets;
    samples = await interleavedRounds({
      names: TARGETS,
      rounds: plan.rounds,
      measure: (name) => throughput(running[name], plan.roundSeconds),
      describe: (name, sample) =>
        `${name} ${Math.round(sample.messagesPerSecond)} msg/s (${sample.cpuUsPerBroadcast.toFixed(0)} µs CPU/broadcast)`,
      log: (round, line) => context.log(`emulator: round ${round + 1}/${plan.rounds}: ${line}`),
    });
    for (const name of TARGETS) latencies[name] = await paced(targets[name], plan.pacedBroadcasts);
  } finally {
    await tearDown(targets);
  }

  const rate = (name: TargetName): number => median(samples[name].map((s) => s.messagesPerSecond));
  const cpu = (name: TargetName): number => median(samples[name].map((s) => s.cpuUsPerBroadcast));
  const p99 = (name: TargetName): number => Math.round(percentile(latencies[name], 99) * 10) / 10;
  const workload =
    `1 KiB text to ${CLIENTS} WebSocket clients (${CLIENT_PROCESSES} client processes), ${WINDOW} broadcasts in flight, ` +
    `median of ${plan.rounds} × ${plan.roundSeconds} s; p99 = time for a paced broadcast to reach all ${CLIENTS} clients ` +
    `(${plan.pacedBroadcasts} broadcasts); CPU per broadcast`;
  const bare = { name: 'bare ws', value: rate('bare') };
  const base = { benchmark: 'emulator', workload, unit: 'msg/s' };
  const rows: BenchRow[] = [
    {
      ...base,
      name: 'bare ws broadcast (floor)',
      value: bare.value,
      p99Ms: p99('bare'),
      cpuUsPerRequest: cpu('bare'),
    },
    {
      ...base,
      name: 'emulator sendToAll, json.webpubsub.azure.v1',
      value: rate('json'),
      p99Ms: p99('json'),
      cpuUsPerRequest: cpu('json'),
      baseline: bare,
      ratio: rate('json') / bare.value,
      target: { atLeast: 0.7 },
    },
    {
      ...base,
      name: `emulator sendToAll, json.reliable.webpubsub.azure.v1 (clients ack every ${RELIABLE_ACK_EVERY})`,
      value: rate('reliable'),
      p99Ms: p99('reliable'),
      cpuUsPerRequest: cpu('reliable'),
      baseline: bare,
      ratio: rate('reliable') / bare.value,
    },
  ];
  const p50 = Object.fromEntries(TARGETS.map((name) => [name, percentile(latencies[name], 50)]));
  return {
    rows,
    details: { plan, clients: CLIENTS, window: WINDOW, samples, latencyP50Ms: p50, latenciesMs: latencies },
  };
}
