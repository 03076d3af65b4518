import type { ConnectionState } from '../protocol/connection-state';

/**
 * A token bucket per connection, kept in connection state as `[tokens, updatedAtMs]`: no store is needed,
 * and the service hands the bucket back with the connection's next event. Time is a parameter (tests).
 */
export interface BucketLimit {
  /** Most events in a burst. */
  capacity: number;
  /** Tokens added back per second. */
  refillPerSecond: number;
}

export type TakeResult = { ok: true; bucket: [number, number] } | { ok: false; retryAfterMs: number };

function stored(state: ConnectionState, key: string): [number, number] | undefined {
  const value = state.get(key);
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [tokens, at] = value;
  return typeof tokens === 'number' && typeof at === 'number' ? [tokens, at] : undefined;
}

/** Takes one token from the bucket under `key`; the caller stores `bucket` once the event has succeeded. */
export function takeToken(state: ConnectionState, key: string, limit: BucketLimit, now: number): TakeResult {
  const [tokens, at] = stored(state, key) ?? [limit.capacity, now];
  // A clock that went backwards (another instance) refills nothing rather than draining the bucket.
  const elapsed = Math.max(0, now - at);
  const available = Math.min(limit.capacity, tokens + (elapsed / 1000) * limit.refillPerSecond);
  if (available < 1) {
    return { ok: false, retryAfterMs: Math.ceil(((1 - available) / limit.refillPerSecond) * 1000) };
  }
  // Rounded to keep the state header short; a thousandth of a token is not worth its bytes.
  return { ok: true, bucket: [Math.round((available - 1) * 1000) / 1000, now] };
}

export function storeBucket(state: ConnectionState, key: string, bucket: [number, number]): void {
  state.set(key, bucket);
}
