import { startChildServer, type ChildServer, type StartOptions } from './child-server';
import type { LoadResult } from './load';
import type { BenchContext } from '../types';

/** How long a benchmark loads each contender: one warm-up, then rounds that are compared by their median. */
export interface Plan {
  warmupSeconds: number;
  rounds: number;
  roundSeconds: number;
}

/** One HTTP load round against one server, with the server's own CPU spent per request. */
export type HttpSample = LoadResult;

export function describeHttpSample(name: string, sample: HttpSample): string {
  return (
    `${name} ${Math.round(sample.requestsPerSecond)}/s p99 ${sample.p99Ms} ms ` +
    `${sample.cpuUsPerRequest.toFixed(1)} µs CPU/req`
  );
}

/**
 * Measures every contender once a round, rotating who goes first, so any drift of a shared machine
 * (neighbours, thermal) spreads over all of them instead of favouring whoever ran in the quiet moment.
 */
export async function interleavedRounds<Name extends string, Sample>(options: {
  names: readonly Name[];
  rounds: number;
  measure: (name: Name) => Promise<Sample>;
  describe: (name: Name, sample: Sample) => string;
  log: (round: number, line: string) => void;
}): Promise<Record<Name, Sample[]>> {
  const { names } = options;
  const samples = Object.fromEntries(names.map((name) => [name, [] as Sample[]])) as Record<Name, Sample[]>;
  for (let round = 0; round < options.rounds; round++) {
    const line: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] as Name;
      const sample = await options.measure(name);
      samples[name].push(sample);
      line.push(options.describe(name, sample));
    }
    options.log(round, line.join(', '));
  }
  return samples;
}

/**
 * Starts one child server per name (all or none: a failure closes those already started), each under
 * --cpu-prof when `--profile` names it.
 */
export async function startChildServers<Name extends string>(
  context: BenchContext,
  names: readonly Name[],
  optionsFor: (name: Name) => StartOptions & { profileName?: string } = () => ({}),
): Promise<Record<Name, ChildServer>> {
  const started = await Promise.allSettled(
    names.map((name) => {
      const { profileName = `${name}.cpuprofile`, ...options } = optionsFor(name);
      return startChildServer(name, {
        ...options,
        nodeArgs: [
          ...(options.nodeArgs ?? []),
          ...(context.profile.has(name)
            ? ['--cpu-prof', `--cpu-prof-dir=${context.outputDir}/profiles`, `--cpu-prof-name=${profileName}`]
            : []),
        ],
      });
    }),
  );
  const failed = started.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await Promise.all(
      started.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.close() : Promise.resolve())),
    );
    throw failed.reason;
  }
  return Object.fromEntries(
    names.map((name, i) => [name, (started[i] as PromiseFulfilledResult<ChildServer>).value]),
  ) as Record<Name, ChildServer>;
}

/**
 * Keeps `window` operations in flight until `seconds` have passed, then waits for the last to finish; the
 * elapsed time ends at the last completion, so the tail is counted as work done, not as idle time.
 */
export async function keepInFlight(
  window: number,
  seconds: number,
  operation: () => Promise<unknown>,
): Promise<{ completed: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let completed = 0;
  let lastDone = start;
  await new Promise<void>((resolve, reject) => {
    let inFlight = 0;
    const pump = (): void => {
      while (inFlight < window && process.hrtime.bigint() < end) {
        inFlight++;
        operation().then(() => {
          inFlight--;
          completed++;
          lastDone = process.hrtime.bigint();
          pump();
        }, reject);
      }
      if (inFlight === 0) resolve();
    };
    pump();
  });
  return { completed, seconds: Number(lastDone - start) / 1e9 };
}
