// autocannon ships no types and @types/autocannon is not installed (no network); this covers the part of its
// programmatic API the benchmarks use.
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
    }

    interface Options {
      url: string;
      connections?: number;
      pipelining?: number;
      /** Seconds. */
      duration?: number;
      timeout?: number;
      /** Milliseconds between samples; an instance acts on stop() at the next one. */
      sampleInt?: number;
      requests?: Request[];
      /** Return this instance's raw result, to be merged with others by aggregateResult. */
      skipAggregateResult?: boolean;
    }

    /** What an instance run with `skipAggregateResult` returns: only aggregateResult reads it. */
    interface InstanceResult {
      readonly totalCompletedRequests: number;
    }

    /** A running instance: its result once it has stopped (by its duration or by `stop()`). */
    interface Instance<R> extends PromiseLike<R> {
      on(
        event: 'response',
        listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void,
      ): this;
      stop(): void;
    }

    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p99: number;
    }

    interface Result {
      duration: number;
      errors: number;
      timeouts: number;
      mismatches: number;
      non2xx: number;
      resets: number;
      statusCodeStats: Record<string, { count: number } | undefined>;
      /** Milliseconds. */
      latency: Histogram;
      /** Per-sample (per-second) counts; `total` is every completed request. */
      requests: Histogram & { sent: number };
      throughput: Histogram;
    }
  }

  function autocannon(
    options: autocannon.Options & { skipAggregateResult: true },
  ): autocannon.Instance<autocannon.InstanceResult>;
  function autocannon(options: autocannon.Options): autocannon.Instance<autocannon.Result>;
  namespace autocannon {
    function aggregateResult(
      results: InstanceResult[],
      options: { url: string; connections?: number },
    ): Result;
  }
  export = autocannon;
}
