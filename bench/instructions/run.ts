/**
 * CPU instructions per request, counted by valgrind's callgrind, for the HTTP benchmarks' servers:
 *
 * - webhook: floor, express and ours, plus two that take ours apart (answer-only: the same answers with no
 *   protocol work; ours-unsigned: ours without the signature check), sent the signed connect + user-event
 *   mix, every connect from a new connection;
 * - negotiate: floor, sample and ours, sent bearer-token negotiates of 1,000 callers in rotation.
 *
 * Requests go one at a time over one keep-alive connection.
 *
 * Why a second measure: requests/s and CPU time per request move by ±20% between runs on these shared VMs,
 * more than most changes to a handler, and load shifts the contenders unequally. An instruction count does
 * not depend on what else the machine is doing; it is the figure to compare a change against. It is not a
 * time: it does not see cache misses, and the kernel's work (the socket calls) is not in it. Each server
 * runs twice, with a short and a long request count, and the difference is divided by the difference in
 * requests, so start-up and loading cancel out.
 *
 * The JIT's warm-up cancels out only if it is over before the short run ends, and under callgrind it takes
 * thousands of requests: after 1,000 negotiates, V8's optimizing compiler still made up 177,000 of the
 * 279,000 instructions a request of a server that only writes a prepared answer (68,000 once warm). The
 * short runs are sized for that, and every row says how many of its instructions a request were still
 * the optimizing compiler's (callgrind_annotate's per-function totals), so a count taken before the
 * steady state shows itself.
 *
 *   npm run bench:instructions [-- --only webhook|negotiate] [--servers ours,floor]
 *
 * `--servers` counts only the named servers of the workload (ratios are then against the first of them):
 * enough to judge a change to ours against figures counted before it.
 *
 * Needs valgrind (Debian: apt-get install -y valgrind). A server takes one to four minutes under callgrind.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startChildServer } from '../lib/child-server';
import type { LoadRequest } from '../lib/load';
import { repoRoot, serversDir } from '../lib/paths';
import { loopbackPoster } from '../lib/post';
import { ENV_ISSUER, ENV_JWKS, negotiateRequest } from '../negotiate/fixture';
import { startIssuer } from '../negotiate/issuer';
import { REQUEST_MIX, signedConnections, type SignedConnection, withConnection } from '../webhook/fixture';

interface Workload {
  name: string;
  description: string;
  /** Servers in table order; the first is the baseline of every ratio. */
  servers: readonly string[];
  scriptOf(server: string): string;
  /** Requests before the counted ones, then how many more the long run sends. */
  shortRun: number;
  extra: number;
  /** The i-th request of a run; the same sequence for every server. */
  requestAt(index: number): LoadRequest;
  expectStatuses: readonly number[];
  /** Prepares the requests; what it returns, if anything, undoes it. */
  setUp?(): Promise<(() => Promise<void>) | undefined>;
}

let webhookConnections: SignedConnection[] = [];
const webhook: Workload = {
  name: 'webhook',
  description: 'signed connect + user event 1:1, every connect from a connection id not seen before',
  servers: ['floor', 'answer-only', 'express', 'ours-unsigned', 'ours'],
  scriptOf: (server) => join(serversDir, `${server}.js`),
  shortRun: 6_000,
  extra: 10_000,
  requestAt: (index) => {
    const mix = REQUEST_MIX[index % REQUEST_MIX.length];
    const connection = webhookConnections[Math.floor(index / REQUEST_MIX.length)];
    if (mix === undefined || connection === undefined) throw new Error('request index out of range');
    return withConnection(mix, connection);
  },
  expectStatuses: [200, 204],
  setUp() {
    const runLength = this.shortRun + this.extra;
    webhookConnections = signedConnections(Math.ceil(runLength / REQUEST_MIX.length));
    return Promise.resolve(undefined);
  },
};

let negotiateRequests: LoadRequest[] = [];
const negotiate: Workload = {
  name: 'negotiate',
  description: 'GET negotiate with RS256 bearer tokens of 1,000 callers in rotation, key mode',
  servers: ['floor', 'sample', 'ours'],
  scriptOf: (server) => join(serversDir, '..', 'negotiate', 'servers', `${server}.js`),
  // The sample spends ~1 ms of CPU per request outside valgrind, ~50× that inside: fewer requests counted,
  // but as long a warm-up as the JIT needs (see the top of this file).
  shortRun: 6_000,
  extra: 3_000,
  requestAt: (index) => {
    const next = negotiateRequests[index % negotiateRequests.length];
    if (next === undefined) throw new Error('no caller tokens: the issuer is not set up');
    return next;
  },
  expectStatuses: [200],
  async setUp() {
    const issuer = await startIssuer();
    // The children inherit the issuer's address and public keys, as in the negotiate benchmark.
    process.env[ENV_ISSUER] = issuer.issuer;
    process.env[ENV_JWKS] = issuer.jwks;
    negotiateRequests = issuer.tokens.map((token, i) => negotiateRequest(token, `user-${i}`));
    return () => issuer.close();
  },
};

const WORKLOADS: readonly Workload[] = [webhook, negotiate];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, servers: { type: 'string' } } });
  const selected = values.only === undefined ? WORKLOADS : WORKLOADS.filter((w) => w.name === values.only);
  if (selected.length === 0) {
    throw new Error(`--only takes one of ${WORKLOADS.map((w) => w.name).join(', ')}`);
  }
  const version = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0)
    throw new Error('valgrind is not installed (Debian: apt-get install -y valgrind)');

  const results: Record<string, Record<string, PerRequest>> = {};
  const tables: string[] = [];
  for (const workload of selected) {
    const servers = values.servers?.split(',') ?? workload.servers;
    const unknown = servers.filter((server) => !workload.servers.includes(server));
    if (unknown.length > 0) {
      throw new Error(`${workload.name} has no server ${unknown.join(', ')}: ${workload.servers.join(', ')}`);
    }
    const tearDown = await workload.setUp?.();
    try {
      const perRequest: Record<string, PerRequest> = {};
      for (const server of servers) {
        const short = await countInstructions(workload, server, workload.shortRun);
        const long = await countInstructions(workload, server, workload.shortRun + workload.extra);
        const counted: PerRequest = {
          instructions: (long.total - short.total) / workload.extra,
          optimizingCompiler: (long.optimizingCompiler - short.optimizingCompiler) / workload.extra,
        };
        perRequest[server] = counted;
        process.stderr.write(
          `${workload.name}: ${server} ${format(counted.instructions)} instructions a request, ` +
            `${format(counted.optimizingCompiler)} of them the optimizing compiler's\n`,
        );
      }
      results[workload.name] = perRequest;
      tables.push(table(workload, servers, perRequest));
    } finally {
      await tearDown?.();
    }
  }
  process.stdout.write(`${tables.join('\n\n')}\n\n${version.stdout.trim()}, node ${process.version}\n`);
  const out = join(repoRoot, 'bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'instructions.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, valgrind: version.stdout.trim(), results }, null, 2)}\n`,
  );
}

interface PerRequest {
  instructions: number;
  /** The share V8's optimizing compilers (TurboFan, Maglev) still had: near 0 once the JIT is warm. */
  optimizingCompiler: number;
}

function table(
  workload: Workload,
  servers: readonly string[],
  perRequest: Record<string, PerRequest>,
): string {
  const baseline = servers[0] as string;
  const base = (perRequest[baseline] as PerRequest).instructions;
  return [
    `${workload.name}: ${workload.description}; ${format(workload.extra)} requests counted after ${format(workload.shortRun)}`,
    '',
    `| server | instructions a request | vs ${baseline} | of which the optimizing compiler |`,
    '| --- | --- | --- | --- |',
    ...servers.map((server) => {
      const { instructions, optimizingCompiler } = perRequest[server] as PerRequest;
      const share = ((100 * optimizingCompiler) / instructions).toFixed(1);
      return `| ${server} | ${format(instructions)} | ${(instructions / base).toFixed(2)}× | ${format(optimizingCompiler)} (${share}%) |`;
    }),
  ].join('\n');
}

function format(value: number): string {
  return Math.round(value).toLocaleString('en');
}

interface ProcessCount {
  total: number;
  optimizingCompiler: number;
}

/** Instructions of one server process that answered `requests` requests, from start to exit. */
async function countInstructions(
  workload: Workload,
  server: string,
  requests: number,
): Promise<ProcessCount> {
  const dir = mkdtempSync(join(tmpdir(), 'callgrind-'));
  try {
    const child = await startChildServer(server, {
      script: workload.scriptOf(server),
      launcher: [
        'valgrind',
        '--tool=callgrind',
        '--quiet',
        `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
        // V8 writes machine code into memory it then runs: callgrind must notice every such change.
        '--smc-check=all-non-file',
      ],
      startTimeoutMs: 300_000,
    });
    try {
      await sendSequentially(child.port, requests, workload);
    } finally {
      // callgrind writes its counts as the process exits.
      await child.close();
    }
    const file = readdirSync(dir).find((entry) => entry.startsWith('callgrind.out'));
    if (file === undefined) throw new Error(`callgrind wrote no output for ${server}`);
    const path = join(dir, file);
    const match = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path, 'utf8'));
    if (match?.[1] === undefined) throw new Error(`no instruction total in callgrind's output for ${server}`);
    return { total: Number(match[1]), optimizingCompiler: optimizingCompilerInstructions(path) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// V8's optimizing tiers live in these C++ namespaces; their functions are named in node's symbols.
const OPTIMIZING_COMPILER = /v8::internal::(compiler|maglev)::/;

/** Instructions spent in V8's optimizing compilers, from callgrind_annotate's per-function totals. */
function optimizingCompilerInstructions(callgrindOut: string): number {
  const annotated = spawnSync('callgrind_annotate', ['--threshold=100', callgrindOut], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (annotated.status !== 0) throw new Error(`callgrind_annotate failed: ${annotated.stderr}`);
  let sum = 0;
  for (const line of annotated.stdout.split('\n')) {
    const row = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (row?.[1] !== undefined && row[2] !== undefined && OPTIMIZING_COMPILER.test(row[2])) {
      sum += Number(row[1].replaceAll(',', ''));
    }
  }
  return sum;
}

// A first request can time out inside the server under callgrind: ours fetches the issuer's discovery
// document and keys on first use, with a 5 s limit, and loading Node's fetch there takes longer. Such a
// request is repeated until answered; the attempts are printed, since they count in that run's total.
const READY_ATTEMPTS = 20;

async function sendSequentially(port: number, requests: number, workload: Workload): Promise<void> {
  const poster = loopbackPoster(1);
  try {
    for (let attempt = 1; ; attempt++) {
      const status = await poster.send(port, workload.requestAt(0));
      if (workload.expectStatuses.includes(status)) {
        if (attempt > 1) process.stderr.write(`  answered ${status} at attempt ${attempt}\n`);
        break;
      }
      if (attempt === READY_ATTEMPTS)
        throw new Error(`the first request answered ${status} ${attempt} times`);
    }
    for (let i = 1; i < requests; i++) {
      const status = await poster.send(port, workload.requestAt(i));
      if (!workload.expectStatuses.includes(status)) throw new Error(`request ${i} answered ${status}`);
    }
  } finally {
    poster.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
