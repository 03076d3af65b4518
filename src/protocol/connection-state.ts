import { invalidHeader } from './errors';

/**
 * Connection state travels in `ce-connectionState` as base64 of a JSON object (the shape
 * @azure/web-pubsub-express and the .NET extension both use). The service echoes it on every later event,
 * so it is bounded: it rides in an HTTP header.
 */
export type StateValue = string | number | boolean | null | StateValue[] | { [key: string]: StateValue };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeConnectionState(header: string | null, maxBytes: number): Record<string, StateValue> {
  if (header === null || header === '') return {};
  const name = 'ce-connectionState';
  if (header.length > maxBytes) throw invalidHeader(name, `is longer than the limit of ${maxBytes} bytes`);
  if (header.length % 4 !== 0 || !BASE64.test(header)) throw invalidHeader(name, 'is not valid base64');
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(Buffer.from(header, 'base64')));
  } catch {
    throw invalidHeader(name, 'does not hold base64-encoded UTF-8 JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalidHeader(name, 'must encode a JSON object');
  }
  return parsed as Record<string, StateValue>;
}

export function encodeConnectionState(state: Readonly<Record<string, StateValue>>): string {
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64');
}

/** The state a hook sees: read the incoming values, set and clear keys; we know whether it changed. */
export class ConnectionState {
  #values: Record<string, StateValue>;
  #changed = false;

  constructor(initial: Record<string, StateValue> = {}) {
    this.#values = initial;
  }

  get(key: string): StateValue | undefined {
    return Object.hasOwn(this.#values, key) ? this.#values[key] : undefined;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#values, key);
  }

  set(key: string, value: StateValue): void {
    this.#values = { ...this.#values, [key]: value };
    this.#changed = true;
  }

  delete(key: string): void {
    if (!Object.hasOwn(this.#values, key)) return;
    const { [key]: _removed, ...rest } = this.#values;
    this.#values = rest;
    this.#changed = true;
  }

  clear(): void {
    if (Object.keys(this.#values).length === 0) return;
    this.#values = {};
    this.#changed = true;
  }

  get changed(): boolean {
    return this.#changed;
  }

  toJSON(): Readonly<Record<string, StateValue>> {
    return this.#values;
  }
}
