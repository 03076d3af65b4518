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
}

export interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
  p50Ms: number;
  completed: number;
  seconds: number;
}

/**
 * One autocannon instance per connection, all in this process, merged into one result (latency histograms
 * added, not averaged). Why not one instance with N connections: autocannon's clients all walk the same
 * request list, so a workload in which every connection needs its own requests (the webhook's new
 * connection ids) had to rewrite each request in `setupRequest`, and autocannon then rebuilds the request's
 * bytes on every send. That cost the generator ~20 µs a request: it, not the server, was the limit for the
 * cheapest server (the webhook floor reached ~14k requests/s with it against ~20k without).
 * Throws on any error, timeout or unexpected status.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.connections.length === 0) throw new Error('runLoad needs at least one connection');
  const instances = await Promise.all(
    options.connections.map((requests) =>
      autocannon({
        url: options.url,
        connections: 1,
        pipelining: 1,
        duration: options.durationSeconds,
        timeout: 10,
        skipAggregateResult: true,
        // autocannon writes into the request objects it is given: each instance gets its own copies.
        requests: requests.map((request) => ({ ...request, headers: { ...request.headers } })),
      }),
    ),
  );
  const result = autocannon.aggregateResult(instances, {
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
  if (result.requests.total === 0) throw new Error(`load run against ${options.url} completed no request`);
  return {
    // total / wall time rather than the mean of per-second samples: a partial last sample would skew it.
    requestsPerSecond: result.requests.total / result.duration,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    completed: result.requests.total,
    seconds: result.duration,
  };
}
