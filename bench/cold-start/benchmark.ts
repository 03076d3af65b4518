import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, deployPackageJson } from '../../dev/bundle';
import { interleavedRounds } from '../lib/rounds';
import { median } from '../lib/stats';
import type { Benchmark, BenchContext, BenchOutcome, BenchRow } from '../types';
import { ACCESS_KEY, ORIGIN } from '../webhook/fixture';

const CONTENDERS = ['bare', 'eager', 'unbundled', 'bundled', 'unbundled-webhook', 'bundled-webhook'] as const;
type Contender = (typeof CONTENDERS)[number];

// Each start is ~0.04–0.35 s on a 2-core machine: 15 interleaved rounds of 6 processes stay under ~15 s.
const ROUNDS = 15;
const QUICK_ROUNDS = 4;

const WORKLOAD =
  'fresh node process: spawn → app loaded (every registration) → one key-mode negotiate answered (anonymous identity) → exit; the webhook rows answer a signed connect event instead';

export const coldStartBenchmark: Benchmark = {
  name: 'cold-start',
  description:
    'time from spawn to the first negotiate answered: bare `node -e 0`, the compiled app unbundled, the esbuild bundle',
  run: runColdStart,
};

interface Start {
  ms: number;
  output: string;
}

async function runColdStart(context: BenchContext): Promise<BenchOutcome> {
  const bundle = await buildBundle({ outDir: join(context.outputDir, 'cold-start-bundle') });
  // Laid out as deployed: the harness loads the folder's `main` as the worker would.
  writeFileSync(join(bundle.outDir, 'package.json'), deployPackageJson());
  const harness = join(__dirname, 'first-request.js');
  const args: Record<Contender, string[]> = {
    bare: ['-e', '0'],
    eager: [harness, 'negotiate', 'eager'],
    unbundled: [harness, 'negotiate', 'unbundled'],
    bundled: [harness, 'negotiate', 'bundled', bundle.outDir],
    'unbundled-webhook': [harness, 'webhook-connect', 'unbundled'],
    'bundled-webhook': [harness, 'webhook-connect', 'bundled', bundle.outDir],
  };
  // Only what the app reads: no inherited WebPubSub* or Negotiate* settings from the caller's shell.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    // The webhook fixture's resource: its connect is signed with this key and names this origin.
    WebPubSubConnectionString: `Endpoint=https://${ORIGIN};AccessKey=${ACCESS_KEY};Version=1.0;`,
    WebPubSubHub: 'chat',
    NegotiateIdentity: 'anonymous',
  };
  const rounds = context.quick ? QUICK_ROUNDS : ROUNDS;
  const samples = await interleavedRounds<Contender, Start>({
    names: CONTENDERS,
    rounds,
    measure: async (name) => {
      const start = await timeProcess(args[name], env);
      if (name !== 'bare' && !start.output.includes('"status":200'))
        throw new Error(`${name}: the first request was not answered 200: ${start.output}`);
      return start;
    },
    describe: (name, sample) => `${name} ${sample.ms.toFixed(1)} ms`,
    log: (round, line) => context.log(`  cold-start round ${round + 1}/${rounds}: ${line}`),
  });
  const ms = (name: Contender): number => median(samples[name].map((sample) => sample.ms));
  const workload = `${WORKLOAD}; median of ${rounds} interleaved starts each`;
  const base = { benchmark: 'cold-start', workload, unit: 'ms' };
  const bare = { name: 'bare node', value: ms('bare') };
  const unbundled = { name: 'unbundled', value: ms('unbundled') };
  const eager = { name: 'eager', value: ms('eager') };
  const unbundledWebhook = { name: 'unbundled', value: ms('unbundled-webhook') };
  const versus = (
    name: string,
    contender: Contender,
    baseline: { name: string; value: number },
    target?: BenchRow['target'],
  ): BenchRow => ({
    ...base,
    name,
    value: ms(contender),
    baseline,
    ratio: ms(contender) / baseline.value,
    ...(target === undefined ? {} : { target }),
  });
  const rows: BenchRow[] = [
    { ...base, name: 'bare node -e 0', value: bare.value },
    versus('unbundled (dist/src/functions/*.js) vs bare', 'unbundled', bare),
    versus(
      'unbundled, every handler loaded at start-up (the app before lazy registrations), vs bare',
      'eager',
      bare,
    ),
    versus('bundled vs the eager unbundled app (reference)', 'bundled', eager),
    versus('bundled vs bare', 'bundled', bare, { atMost: 1.5 }),
    versus('bundled vs unbundled', 'bundled', unbundled, { atMost: 0.6 }),
    // Reported without a target: the first connect after a scale-out, which the client's WebSocket waits for.
    versus('webhook connect: unbundled vs bare', 'unbundled-webhook', bare),
    versus('webhook connect: bundled vs bare', 'bundled-webhook', bare),
    versus('webhook connect: bundled vs unbundled', 'bundled-webhook', unbundledWebhook),
  ];
  return {
    rows,
    details: {
      rounds,
      startsMs: Object.fromEntries(CONTENDERS.map((name) => [name, samples[name].map((s) => s.ms)])),
      bundleFiles: bundle.packagesByFile,
    },
  };
}

/** Wall time from spawn to exit, measured by the parent, as the platform sees a new instance. */
function timeProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Start> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, output });
      else reject(new Error(`node ${args.join(' ')} exited with ${code}: ${output}`));
    });
  });
}
