/**
 * One line of the bench table. A row states a measured value and, when it is judged, the baseline it is
 * divided by and the ratio it must reach; every benchmark reports in this one shape so `npm run bench`
 * prints them all in one table and one JSON file.
 */
export interface BenchRow {
  /** The benchmark that produced the row, as named by `--only`. */
  benchmark: string;
  name: string;
  workload: string;
  unit: string;
  value: number;
  /** Tail latency, where the benchmark measures latency. */
  p99Ms?: number;
  /**
   * CPU the server process spent per request (user + system). Steadier than requests/s on a shared
   * machine, and it says where the time goes when the load generator is the bottleneck.
   */
  cpuUsPerRequest?: number;
  baseline?: { name: string; value: number };
  /** value / baseline.value */
  ratio?: number;
  /** Bounds on the ratio; lower-is-better benchmarks (cold start) use atMost. */
  target?: { atLeast?: number; atMost?: number };
  /** A figure measured elsewhere, shown for context and not judged. */
  reference?: string;
}

export interface BenchContext {
  /** Short rounds for smoke runs: the figures are indicative only. */
  quick: boolean;
  /** Server names whose child processes run under --cpu-prof. */
  profile: ReadonlySet<string>;
  /** Overrides the benchmark's default concurrency when set. */
  connections: number | undefined;
  /** Where profiles and other artefacts go. */
  outputDir: string;
  /** Progress lines; stdout is kept for the table. */
  log(line: string): void;
}

export interface BenchOutcome {
  rows: BenchRow[];
  /** Raw per-round figures etc., written to the JSON file only. */
  details?: unknown;
}

export interface Benchmark {
  name: string;
  description: string;
  run(context: BenchContext): Promise<BenchOutcome>;
}

export function ratioMeetsTarget(row: BenchRow): boolean | undefined {
  if (row.target === undefined || row.ratio === undefined) return undefined;
  const { atLeast, atMost } = row.target;
  return (atLeast === undefined || row.ratio >= atLeast) && (atMost === undefined || row.ratio <= atMost);
}
