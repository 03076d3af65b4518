import {
  computeSignature,
  createSignatureVerifier,
  signatureHeaderValue,
} from '../../src/protocol/signature';
import vectors from '../fixtures/signature-vectors.json';

describe('ce-signature', () => {
  describe.each(vectors.vectors)('vector $connectionId / $accessKey', ({ connectionId, accessKey, hex }) => {
    it('computes sha256=<hex> of the connection id keyed by the UTF-8 access key', () => {
      expect(computeSignature(accessKey, connectionId)).toBe(`sha256=${hex}`);
    });

    it('verifies the lower-case and the upper-case hex form (the .NET extension emits upper case)', () => {
      const verifier = createSignatureVerifier([accessKey]);
      expect(verifier.verify(connectionId, `sha256=${hex}`)).toBe(true);
      expect(verifier.verify(connectionId, `sha256=${hex.toUpperCase()}`)).toBe(true);
      expect(verifier.verify(connectionId, `SHA256=${hex}`)).toBe(true);
    });

    it('refuses the same signature for another connection id', () => {
      expect(createSignatureVerifier([accessKey]).verify(`${connectionId}x`, `sha256=${hex}`)).toBe(false);
    });
  });

  const [a, b] = [vectors.vectors[1]!, vectors.vectors[0]!];

  it('accepts a header signed with primary and secondary keys when only one of them is configured', () => {
    const both = `sha256=${a.hex},sha256=${a.hex.replace(/^./, (c) => (c === '0' ? '1' : '0'))}`;
    expect(createSignatureVerifier([a.accessKey]).verify(a.connectionId, both)).toBe(true);
  });

  it('accepts the comma-and-space form Node produces when the header was sent twice', () => {
    const other = 'sha256=' + 'ab'.repeat(32);
    expect(createSignatureVerifier([a.accessKey]).verify(a.connectionId, `${other}, sha256=${a.hex}`)).toBe(
      true,
    );
  });

  it('accepts a signature made with any configured key (rotation)', () => {
    const verifier = createSignatureVerifier([a.accessKey, b.accessKey]);
    expect(verifier.verify(b.connectionId, `sha256=${b.hex}`)).toBe(true);
    expect(verifier.verify(a.connectionId, `sha256=${a.hex}`)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['no prefix', a.hex],
    ['wrong algorithm', `sha1=${a.hex}`],
    ['truncated', `sha256=${a.hex.slice(0, 63)}`],
    ['not hex', `sha256=${'zz'.repeat(32)}`],
    ['base64 of the digest', `sha256=${Buffer.from(a.hex, 'hex').toString('base64')}`],
    ['the key itself', `sha256=${a.accessKey}`],
    ['only separators', ',,, ,'],
  ])('refuses a header that is %s', (_name, value) => {
    expect(createSignatureVerifier([a.accessKey]).verify(a.connectionId, value)).toBe(false);
  });

  it('refuses a signature that differs from the right one in any single hex digit, in either case', () => {
    const verifier = createSignatureVerifier([a.accessKey]);
    for (let position = 0; position < a.hex.length; position++) {
      const digit = a.hex[position] === 'f' ? 'e' : 'f';
      const altered = a.hex.slice(0, position) + digit + a.hex.slice(position + 1);
      expect(verifier.verify(a.connectionId, `sha256=${altered}`)).toBe(false);
      expect(verifier.verify(a.connectionId, `sha256=${altered.toUpperCase()}`)).toBe(false);
    }
    expect(verifier.verify(a.connectionId, `sha256=${a.hex}`)).toBe(true);
  });

  it('refuses a missing header', () => {
    expect(createSignatureVerifier([a.accessKey]).verify(a.connectionId, null)).toBe(false);
  });

  it('does not look past the first eight entries of a header', () => {
    const filler = Array.from({ length: 8 }, () => 'sha256=' + '00'.repeat(32));
    expect(
      createSignatureVerifier([a.accessKey]).verify(a.connectionId, [...filler, `sha256=${a.hex}`].join(',')),
    ).toBe(false);
  });

  it('joins one signature per key, primary first, for the emulator side', () => {
    // Second digest: printf '%s' 0f9c97a2f0bf4706afe87a14e0797b11 | openssl dgst -sha256 -hmac test-access-key
    const secondary = '5fa527e76e90ae2751ebb4f79ee781ef0de33471309eb4eb0a5dee225bed5c94';
    expect(signatureHeaderValue([a.accessKey, b.accessKey], a.connectionId)).toBe(
      `sha256=${a.hex},sha256=${secondary}`,
    );
  });

  it('cannot be built without a key', () => {
    expect(() => createSignatureVerifier([])).toThrow(/at least one access key/);
  });

  describe('memory of verified connections', () => {
    it('keeps refusing a forged signature for a connection it verified before', () => {
      const verifier = createSignatureVerifier([a.accessKey]);
      expect(verifier.verify(a.connectionId, `sha256=${a.hex}`)).toBe(true);
      expect(verifier.verify(a.connectionId, 'sha256=' + '00'.repeat(32))).toBe(false);
      expect(verifier.verify(a.connectionId, `sha256=${a.hex}`)).toBe(true);
    });

    it('refuses, once a connection is verified, a header one character away from the one that proved it', () => {
      const verifier = createSignatureVerifier([a.accessKey]);
      const proven = `sha256=${a.hex}`;
      expect(verifier.verify(a.connectionId, proven)).toBe(true);
      for (let position = 0; position < proven.length; position++) {
        const other = proven[position] === 'f' ? 'e' : 'f';
        const altered = proven.slice(0, position) + other + proven.slice(position + 1);
        expect(verifier.verify(a.connectionId, altered)).toBe(false);
      }
      // Another spelling of the same signature is not the remembered string, and is still accepted.
      expect(verifier.verify(a.connectionId, proven.toUpperCase())).toBe(true);
      expect(verifier.verify(a.connectionId, proven)).toBe(true);
    });

    it('remembers nothing from a failed attempt: a forgery repeated is refused again', () => {
      const verifier = createSignatureVerifier([a.accessKey]);
      expect(verifier.verify(a.connectionId, `sha256=${b.hex}`)).toBe(false);
      expect(verifier.verify(a.connectionId, `sha256=${b.hex}`)).toBe(false);
      expect(verifier.verify(a.connectionId, `sha256=${a.hex}`)).toBe(true);
      expect(verifier.verify(a.connectionId, `sha256=${b.hex}`)).toBe(false);
    });

    it('still verifies connections it had to forget, and those it never remembered', () => {
      for (const rememberConnections of [0, 1]) {
        const verifier = createSignatureVerifier([a.accessKey, b.accessKey], { rememberConnections });
        for (let round = 0; round < 2; round++) {
          expect(verifier.verify(a.connectionId, `sha256=${a.hex}`)).toBe(true);
          expect(verifier.verify(b.connectionId, `sha256=${b.hex}`)).toBe(true);
          expect(verifier.verify(b.connectionId, `sha256=${a.hex}`)).toBe(false);
        }
      }
    });
  });
});
