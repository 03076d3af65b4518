import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverageNow, openMachineWindow, type MachineLoad } from './lib/machine';
import { repoRoot } from './lib/paths';
import { ratioMeetsTarget, type Benchmark, type BenchContext, type BenchRow } from './types';
import { coldStartBenchmark } from './cold-start/benchmark';
import { e2eBenchmark } from './e2e/benchmark';
import { emulatorBenchmark } from './emulator/benchmark';
import { negotiateBenchmark } from './negotiate/benchmark';
import { webhookBenchmark } from './webhook/benchmark';

/** Every benchmark, in table order. A new one (negotiate, emulator fan-out, cold start) is one more entry. */
const BENCHMARKS: readonly Benchmark[] = [
  webhookBenchmark,
  negotiateBenchmark,
  emulatorBenchmark,
  coldStartBenchmark,
  e2eBenchmark,
];

const USAGE = `Usage: npm run bench -- [--only <name>[,<name>]] [--quick] [--connections <n>] [--profile <server>]

  --only         run only these benchmarks (${BENCHMARKS.map((b) => b.name).join(', ')})
  --quick        short rounds for a smoke run; the figures are indicative only
  --connections  override a benchmark's default concurrency
  --profile      run that server child (e.g. ours) under --cpu-prof; profiles go to bench-results/profiles/
`;

interface Failure {
  benchmark: string;
  error: string;
}

/** How loaded the machine was while one benchmark ran (see lib/machine.ts). */
interface MachineRecord {
  benchmark: string;
  load: MachineLoad | undefined;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      connections: { type: 'string' },
      profile: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const only = (values.only ?? []).flatMap((entry) => entry.split(',')).filter((name) => name !== '');
  const unknown = only.filter((name) => !BENCHMARKS.some((benchmark) => benchmark.name === name));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}\n${USAGE}`);
  const selected = only.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => only.includes(b.name));
  let connections: number | undefined;
  if (values.connections !== undefined) {
    connections = Number(values.connections);
    if (!Number.isInteger(connections) || connections < 1)
      throw new Error('--connections needs a whole number');
  }

  const outputDir = join(repoRoot, 'bench-results');
  mkdirSync(outputDir, { recursive: true });
  const context: BenchContext = {
    quick: values.quick,
    profile: new Set((values.profile ?? []).flatMap((entry) => entry.split(','))),
    connections,
    outputDir,
    log: (line) => process.stderr.write(`${line}\n`),
  };

  const started = Date.now();
  const loadAverageBefore = loadAverageNow();
  const rows: BenchRow[] = [];
  const details: Record<string, unknown> = {};
  const failures: Failure[] = [];
  const machine: MachineRecord[] = [];
  for (const benchmark of selected) {
    context.log(`${benchmark.name}: ${benchmark.description}${context.quick ? ' (quick)' : ''}`);
    const closeMachineWindow = openMachineWindow();
    try {
      const outcome = await benchmark.run(context);
      rows.push(...outcome.rows);
      details[benchmark.name] = outcome.details;
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push({ benchmark: benchmark.name, error: message });
      context.log(`${benchmark.name}: FAILED\n${message}`);
    }
    machine.push({ benchmark: benchmark.name, load: closeMachineWindow() });
  }

  process.stdout.write(renderTable(rows, context.quick));
  process.stdout.write(`${describeMachine(loadAverageBefore, machine).join('\n')}\n`);
  const file = join(outputDir, 'latest.json');
  const report = {
    generatedAt: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
    quick: context.quick,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    rows: rows.map((row) => ({ ...row, met: ratioMeetsTarget(row) })),
    machine: { loadAverageBefore, benchmarks: machine },
    failures,
    details,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  context.log(`results written to ${file} (${report.seconds.toFixed(1)} s)`);
  return failures.length > 0 ? 1 : 0;
}

function renderTable(rows: readonly BenchRow[], quick: boolean): string {
  const header = ['benchmark', 'row', 'value', 'p99', 'server CPU/req', 'baseline', 'ratio', 'target'];
  const body = rows.map((row) => [
    row.benchmark,
    row.name,
    `${formatNumber(row.value)} ${row.unit}`,
    row.p99Ms === undefined ? '' : `${Number(row.p99Ms.toFixed(1))} ms`,
    row.cpuUsPerRequest === undefined ? '' : `${row.cpuUsPerRequest.toFixed(1)} µs`,
    row.baseline === undefined ? '' : `${row.baseline.name} ${formatNumber(row.baseline.value)}`,
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`,
    describeTarget(row),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]?.length ?? 0)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const workloads = [...new Set(rows.map((row) => `${row.benchmark}: ${row.workload}`))];
  return [
    '',
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...body.map(line),
    '',
    ...workloads,
    quick ? '--quick: short rounds, figures are indicative only' : '',
    '',
  ].join('\n');
}

function describeTarget(row: BenchRow): string {
  const parts: string[] = [];
  if (row.target?.atLeast !== undefined) parts.push(`≥ ${row.target.atLeast}×`);
  if (row.target?.atMost !== undefined) parts.push(`≤ ${row.target.atMost}×`);
  const met = ratioMeetsTarget(row);
  if (met !== undefined) parts.push(met ? 'met' : 'MISSED');
  if (row.reference !== undefined) parts.push(`(ref ${row.reference})`);
  return parts.join(' ');
}

function formatNumber(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
