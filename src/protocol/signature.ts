import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * `ce-signature` is `sha256=<hex HMAC-SHA256(key = UTF-8 bytes of the access key, message = connection id)>`,
 * one entry per access key, comma-separated. Only the connection id is signed.
 */
const PREFIX = 'sha256=';
const HEX_LENGTH = 64;
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

export function createSignatureVerifier(accessKeys: readonly string[]): SignatureVerifier {
  if (accessKeys.length === 0) throw new Error('createSignatureVerifier needs at least one access key');
  const keys = accessKeys.map((key) => Buffer.from(key, 'utf8'));
  return {
    verify(connectionId, header) {
      if (!header) return false;
      const presented = parseSignatureHeader(header);
      if (presented.length === 0) return false;
      let matched = false;
      for (const key of keys) {
        const expected = createHmac('sha256', key).update(connectionId, 'utf8').digest();
        // Every entry is compared against every key so the time taken does not reveal which one matched.
        for (const candidate of presented) {
          if (timingSafeEqual(candidate, expected)) matched = true;
        }
      }
      return matched;
    },
  };
}

/** Decodes the hex digests of a header value; malformed entries are dropped, never matched. */
function parseSignatureHeader(header: string): Buffer[] {
  const digests: Buffer[] = [];
  for (const raw of header.split(',', MAX_ENTRIES)) {
    const entry = raw.trim();
    if (entry.length !== PREFIX.length + HEX_LENGTH) continue;
    if (entry.slice(0, PREFIX.length).toLowerCase() !== PREFIX) continue;
    const hex = entry.slice(PREFIX.length);
    if (!/^[0-9a-fA-F]+$/.test(hex)) continue;
    digests.push(Buffer.from(hex, 'hex'));
  }
  return digests;
}
