import fc from 'fast-check';

/**
 * Bounded property runs for `npm test` (each property stays around a second or two on a 2-core machine);
 * `npm run fuzz` sets FUZZ_RUNS to run the same properties far longer. The seed is fixed so a failure in CI
 * replays locally; fast-check prints it with the shrunk counterexample, and FUZZ_SEED replays another one.
 */
const runs = Number(process.env.FUZZ_RUNS ?? '');
const seed = Number(process.env.FUZZ_SEED ?? '');

export const FUZZ_SEED = Number.isSafeInteger(seed) && process.env.FUZZ_SEED ? seed : 0x9e3779b9;

/** Run parameters for a property; `quick` is its run count under `npm test`. */
export function fuzzParameters<T>(quick: number): fc.Parameters<T> {
  const numRuns = Number.isSafeInteger(runs) && runs > 0 ? runs : quick;
  return { numRuns, seed: FUZZ_SEED };
}

/** Jest's timeout for a property: generous under `npm run fuzz`, where runs are many. */
export function fuzzTimeout(quickMs: number): number {
  return Number.isSafeInteger(runs) && runs > 0 ? Math.max(quickMs, runs * 50) : quickMs;
}

/** Arbitrary header names: the ones the code reads, spelled in any case, plus arbitrary tokens. */
export function headerName(known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .constantFrom(...known)
      .chain((name) => fc.boolean().map((upper) => (upper ? name.toUpperCase() : name))),
    fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}$/),
  );
}

/** Header values the Fetch Headers class accepts (no CR, LF or NUL; latin-1 only). */
export function headerValue(): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)),
    maxLength: 80,
  });
}
