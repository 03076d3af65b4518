import autocannon from 'autocannon';

export interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface LoadOptions {
  url: string;
  requests: readonly LoadRequest[];
  /**
   * Rewrites a request just before it is sent; `context` lives as long as one autocannon connection, so a
   * request can reuse what an earlier one on the same connection chose.
   */
  setupRequest?: (request: LoadRequest, context: Record<string, unknown>) => LoadRequest;
  connections: number;
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

/** One autocannon run in this process; throws on any error, timeout or unexpected status. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSeconds,
    timeout: 10,
    requests: options.requests.map((request) => {
      const { setupRequest } = options;
      return {
        ...request,
        headers: { ...request.headers },
        ...(setupRequest
          ? {
              setupRequest: (req: LoadRequest, context: Record<string, unknown>) =>
                setupRequest(req, context),
            }
          : {}),
      };
    }),
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
