import { createHmac } from 'node:crypto';
import { RecentMemory } from './recent-memory';

/**
 * `ce-signature` is `sha256=<hex HMAC-SHA256(key = UTF-8 bytes of the access key, message = connection id)>`,
 * one entry per access key, comma-separated. Only the connection id is signed.
 */
const PREFIX = 'sha256=';
const HEX_LENGTH = 64;
const ENTRY_LENGTH = PREFIX.length + HEX_LENGTH;
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
 * proved themselves are remembered (bounded, least recently used forgotten first): the HMAC is paid once per
 * connection instead of once per event, and a later event that repeats the header that proved the
 * connection is checked by one comparison. Only verified connections are remembered, so forged requests
 * cannot churn the memory; every comparison runs in constant time.
 *
 * Digests stay hex strings from end to end, compared in JavaScript: decoding entries into Buffers, keeping
 * Buffers and comparing them with crypto.timingSafeEqual cost more (about 15,000 more CPU instructions per
 * webhook request under callgrind, 7% of the request; a connect and its first event 13–16 µs in a loop,
 * against 9–11 µs).
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

  return {
    verify(connectionId, header) {
      if (!header) return false;
      const remembered = verified?.get(connectionId);
      if (remembered?.header !== undefined && equalInConstantTime(header, remembered.header)) return true;
      const presented = presentedDigests(header);
      if (presented.length === 0) return false;
      const expected =
        remembered?.digests ??
        keys.map((key) => createHmac('sha256', key).update(connectionId, 'utf8').digest('hex'));
      if (!anyMatches(presented, expected)) return false;
      if (remembered === undefined) {
        verified?.set(connectionId, {
          digests: expected,
          header: header.length <= MAX_REMEMBERED_HEADER ? header : undefined,
        });
      }
      return true;
    },
  };
}

interface VerifiedConnection {
  /** The expected lower-case hex digest under each configured key. */
  digests: string[];
  /** The header value that proved the connection, unless it was too long to keep. */
  header: string | undefined;
}

// Room for the two entries the service sends, in any spelling; a longer header is verified entry by entry.
const MAX_REMEMBERED_HEADER = 256;

/**
 * The lower-case hex digest of every entry of the right shape. The .NET extension writes upper-case hex,
 * hence the lowering. An entry with other characters than hex digits is kept: it can never equal a digest.
 */
function presentedDigests(header: string): string[] {
  const digests: string[] = [];
  for (const raw of header.split(',', MAX_ENTRIES)) {
    const entry = raw.trim();
    if (entry.length !== ENTRY_LENGTH) continue;
    const lowered = entry.toLowerCase();
    if (lowered.startsWith(PREFIX)) digests.push(lowered.slice(PREFIX.length));
  }
  return digests;
}

function anyMatches(presented: readonly string[], expected: readonly string[]): boolean {
  let matched = false;
  // Every entry is compared against every key so the time taken does not reveal which one matched.
  for (const digest of expected) {
    for (const candidate of presented) {
      if (equalInConstantTime(candidate, digest)) matched = true;
    }
  }
  return matched;
}

/**
 * String equality whose time depends only on the lengths, which are public here (a digest is 64 characters;
 * a header's length is on the wire): every character is compared, whatever the first difference. Written
 * by hand because crypto.timingSafeEqual takes only bytes, and turning strings into Buffers is the cost this
 * module avoids.
 */
function equalInConstantTime(candidate: string, expected: string): boolean {
  if (candidate.length !== expected.length) return false;
  let difference = 0;
  for (let i = 0; i < candidate.length; i++) difference |= candidate.charCodeAt(i) ^ expected.charCodeAt(i);
  return difference === 0;
}
