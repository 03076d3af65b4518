import { createHmac, timingSafeEqual } from 'node:crypto';
import { RecentMemory } from './recent-memory';

/**
 * `ce-signature` is `sha256=<hex HMAC-SHA256(key = UTF-8 bytes of the access key, message = connection id)>`,
 * one entry per access key, comma-separated. Only the connection id is signed.
 */
const PREFIX = 'sha256=';
const HEX_LENGTH = 64;
const DIGEST_BYTES = 32;
// The service signs with at most two keys; a few more entries are tolerated, a flood is not.
const MAX_ENTRIES = 8;

export function computeSignature(accessKey: string, connectionId: string): string {
  return (
    PREFIX + createHmac('sha256', Buffer.from(accessKey, 'utf8')).update(connectionId, 'utf8').digest('hex')
  );
}

export function signatureHeaderValue(accessKeys: readonly string[], connectionId: string): string {
  return accessKeys.map((key) => computeSignature(key, connectionId)).join(',');
}

export interface SignatureVerifier {
  /** True when any entry of the header is the signature of connectionId under any configured key. */
  verify(connectionId: string, header: string | null): boolean;
}

export interface SignatureVerifierOptions {
  /** How many recently verified connections keep their expected digests (0 disables the memory). */
  rememberConnections?: number;
}

/**
 * Every event of a connection carries the same signature, so the expected digests of connections that
 * proved themselves are remembered (bounded, least recently used forgotten first): the HMAC, most of a
 * webhook request's CPU, is paid once per connection instead of once per event. Only verified connections
 * are remembered, so forged requests cannot churn the memory; each comparison still runs in constant time.
 */
export function createSignatureVerifier(
  accessKeys: readonly string[],
  options: SignatureVerifierOptions = {},
): SignatureVerifier {
  if (accessKeys.length === 0) throw new Error('createSignatureVerifier needs at least one access key');
  // Raw key bytes: createHmac with a KeyObject measured slower on Node 20 than with a Buffer.
  const keys = accessKeys.map((key) => Buffer.from(key, 'utf8'));
  const capacity = options.rememberConnections ?? 10_000;
  const verified =
    capacity > 0 ? new RecentMemory<string, VerifiedConnection>(Math.max(capacity, 2)) : undefined;

  function matches(presented: readonly Buffer[], expected: readonly Buffer[]): boolean {
    let matched = false;
    // Every entry is compared against every key so the time taken does not reveal which one matched.
    for (const digest of expected) {
      for (const candidate of presented) {
        if (timingSafeEqual(candidate, digest)) matched = true;
      }
    }
    return matched;
  }

  return {
    verify(connectionId, header) {
      if (!header) return false;
      const remembered = verified?.get(connectionId);
      // The service sends the same header with every event of a connection: comparing it whole (in constant
      // time; its length is public) skips decoding it. Any other spelling takes the full path below.
      if (remembered !== undefined) {
        const bytes = Buffer.from(header, 'utf8');
        if (bytes.length === remembered.header.length && timingSafeEqual(bytes, remembered.header))
          return true;
      }
      const presented = parseSignatureHeader(header);
      if (presented.length === 0) return false;
      if (remembered !== undefined) return matches(presented, remembered.digests);
      const digests = keys.map((key) => createHmac('sha256', key).update(connectionId, 'utf8').digest());
      if (!matches(presented, digests)) return false;
      verified?.set(connectionId, { digests, header: Buffer.from(header, 'utf8') });
      return true;
    },
  };
}

interface VerifiedConnection {
  /** The expected digest under each configured key. */
  digests: Buffer[];
  /** The header value that proved the connection, as bytes for a constant-time comparison. */
  header: Buffer;
}

/** Decodes the hex digests of a header value; malformed entries are dropped, never matched. */
function parseSignatureHeader(header: string): Buffer[] {
  const digests: Buffer[] = [];
  for (const raw of header.split(',', MAX_ENTRIES)) {
    const entry = raw.trim();
    if (entry.length !== PREFIX.length + HEX_LENGTH) continue;
    if (entry.slice(0, PREFIX.length).toLowerCase() !== PREFIX) continue;
    // Hex decoding stops at the first character that is not a hex digit, so a full digest proves all 64 were.
    const digest = Buffer.from(entry.slice(PREFIX.length), 'hex');
    if (digest.length === DIGEST_BYTES) digests.push(digest);
  }
  return digests;
}
