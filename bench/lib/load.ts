import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import autocannon from 'autocannon';

export interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface LoadOptions {
  url: string;
  /**
   * One request list per connection: each connection sends its own list in order, over and over. Lists are
   * fixed before the run, so autocannon builds every request's bytes once instead of once per send.
   */
  connections: readonly (readonly LoadRequest[])[];
  durationSeconds: number;
  /** Every response must have one of these statuses; anything else fails the run. */
  expectStatuses: readonly number[];
  /** The server's CPU time so far, in µs: read as the window opens and as it closes. */
  serverCpuMicros: () => Promise<number>;
}

export interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
  p50Ms: number;
  completed: number;
  seconds: number;
  /** The server's CPU time in the window over the requests completed in it. */
  cpuUsPerRequest: number;
}

// Counting starts this long after every connection's requests are built, so that all of them are open and
// sending; the window then lasts `durationSeconds`.
const RAMP_MS = 250;

/**
 * One autocannon instance per connection, all in this process. Why not one instance with N connections:
 * autocannon's clients all walk the same request list, so a workload in which every connection needs its
 * own requests (the webhook's new connection ids) had to rewrite each request in `setupRequest`, and
 * autocannon then rebuilds the request's bytes on every send. Measured side by side, that cost the
 * generator 35–45 µs more CPU a request, and made it, not the server, the limit for the cheapest server.
 *
 * The instances build their requests' bytes when created, one after another, each with its own clock
 * already running (40,000 requests take ~0.4 s here), so their own durations neither start nor end
 * together. The figures are therefore taken here, from the responses that arrive in one window in which
 * every connection is sending. Throws on any error, timeout or unexpected status, in or out of the window.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.connections.length === 0) throw new Error('runLoad needs at least one connection');
  const instances = options.connections.map((requests) =>
    autocannon({
      url: options.url,
      connections: 1,
      pipelining: 1,
      // Stopped by hand once the window closes; this only bounds a run whose stop went missing.
      duration: options.durationSeconds + 30,
      timeout: 10,
      // An instance acts on stop() at its next sample tick (1 s by default), sending until then.
      sampleInt: 100,
      skipAggregateResult: true,
      // autocannon writes into the request objects it is given: each instance gets its own copies.
      requests: requests.map((request) => ({ ...request, headers: { ...request.headers } })),
    }),
  );
  let counting = false;
  const latenciesMs: number[] = [];
  for (const instance of instances) {
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      if (counting) latenciesMs.push(responseTimeMs);
    });
  }
  await delay(RAMP_MS);
  const cpuAtOpen = await options.serverCpuMicros();
  counting = true;
  const opened = performance.now();
  await delay(options.durationSeconds * 1000);
  counting = false;
  const seconds = (performance.now() - opened) / 1000;
  // Read before stopping: instances keep sending until their next sample tick.
  const cpuInWindow = (await options.serverCpuMicros()) - cpuAtOpen;
  for (const instance of instances) instance.stop();
  const result = autocannon.aggregateResult(await Promise.all(instances), {
    url: options.url,
    connections: options.connections.length,
  });
  const unexpected = Object.entries(result.statusCodeStats)
    .filter(([status]) => !options.expectStatuses.includes(Number(status)))
    .map(([status, stat]) => `${stat?.count ?? 0}× ${status}`);
  if (result.errors > 0 || result.timeouts > 0 || unexpected.length > 0) {
    throw new Error(
      `load run against ${options.url} went wrong: ${result.errors} errors, ${result.timeouts} timeouts` +
        (unexpected.length > 0 ? `, unexpected statuses ${unexpected.join(', ')}` : ''),
    );
  }
  if (latenciesMs.length === 0) throw new Error(`load run against ${options.url} completed no request`);
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    requestsPerSecond: sorted.length / seconds,
    p99Ms: roundToTenth(percentile(sorted, 0.99)),
    p50Ms: roundToTenth(percentile(sorted, 0.5)),
    completed: sorted.length,
    seconds,
    cpuUsPerRequest: cpuInWindow / sorted.length,
  };
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
}

function roundToTenth(value: number): number {
  return Math.round(value * 10) / 10;
}
