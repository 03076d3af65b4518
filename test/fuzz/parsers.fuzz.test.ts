import fc from 'fast-check';
import { compileFilter, FilterSyntaxError, MAX_FILTER_LENGTH } from '../../emulator/odata';
import { decodeConnectionState, encodeConnectionState } from '../../src/protocol/connection-state';
import { ProblemError } from '../../src/protocol/errors';
import { fuzzParameters, fuzzTimeout } from './fuzz-config';

/**
 * The two parsers that read text an outsider controls, fuzzed on their own: the connection-state header
 * (any webhook caller sets it) and the OData filter of the service's REST API (the emulator compiles it).
 */
const MAX_STATE = 1024;

describe('connection-state decoder', () => {
  test(
    'arbitrary header text: a JSON object or a 400 problem naming ce-connectionState, nothing else',
    () => {
      const base64ish = fc.stringMatching(/^[A-Za-z0-9+/=]{0,64}$/);
      const encodedJson = fc
        .json({ maxDepth: 3 })
        .map((json) => Buffer.from(json, 'utf8').toString('base64'));
      const encodedBytes = fc
        .uint8Array({ maxLength: 64 })
        .map((bytes) => Buffer.from(bytes).toString('base64'));
      fc.assert(
        fc.property(
          fc.oneof(fc.string({ maxLength: 100 }), base64ish, encodedJson, encodedBytes),
          (header) => {
            let decoded: unknown;
            try {
              decoded = decodeConnectionState(header, MAX_STATE);
            } catch (error) {
              expect(error).toBeInstanceOf(ProblemError);
              expect((error as ProblemError).status).toBe(400);
              expect((error as ProblemError).detail).toContain('ce-connectionState');
              return;
            }
            expect(typeof decoded).toBe('object');
            expect(decoded).not.toBeNull();
            expect(Array.isArray(decoded)).toBe(false);
          },
        ),
        fuzzParameters(2000),
      );
    },
    fuzzTimeout(10000),
  );

  test('a header over the limit is refused before it is decoded', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_STATE + 1, max: MAX_STATE * 8 }), (size) => {
        expect(() => decodeConnectionState('A'.repeat(size), MAX_STATE)).toThrow(/longer than the limit/);
      }),
      fuzzParameters(50),
    );
  });

  test('every JSON object round-trips through encode and decode', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
        (state) => {
          // JSON has no -0: the service would hand back 0.
          const plain = JSON.parse(JSON.stringify(state)) as Record<string, never>;
          const encoded = encodeConnectionState(plain);
          fc.pre(encoded.length <= MAX_STATE);
          expect(decodeConnectionState(encoded, MAX_STATE)).toEqual(plain);
        },
      ),
      fuzzParameters(500),
    );
  });
});

describe('OData compileFilter', () => {
  // Fragments of the grammar, so that most generated filters get deep into the parser rather than failing
  // on the first character.
  const token = fc.oneof(
    fc.constantFrom(
      'userId',
      'connectionId',
      'groups',
      ' eq ',
      ' ne ',
      ' gt ',
      ' lt ',
      ' ge ',
      ' le ',
      ' and ',
      ' or ',
      'not ',
      ' in ',
      '(',
      ')',
      ',',
      "'",
      "''",
      "'user1'",
      "'a''b'",
      'null',
      'true',
      'false',
      '1',
      '-1',
      '1.5',
      '1e9',
      'length(',
      'tolower(',
      'toupper(',
      'trim(',
      'contains(',
      'startswith(',
      'endswith(',
      'substring(',
      'indexof(',
      'concat(',
      "'g1' in groups",
      'any(',
      'all(',
      '/',
      ' ',
    ),
    fc.string({ maxLength: 4 }),
  );
  const filter = fc.oneof(
    fc.array(token, { maxLength: 24 }).map((parts) => parts.join('')),
    fc.string({ maxLength: 60 }),
    fc.integer({ min: 1, max: 40 }).map((depth) => `${'('.repeat(depth)}userId eq 'a'${')'.repeat(depth)}`),
    fc.integer({ min: 1, max: 200 }).map((depth) => `${'not '.repeat(depth)}true`),
  );
  const target = fc.record({
    connectionId: fc.string({ maxLength: 10 }),
    userId: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
    groups: fc.array(fc.string({ maxLength: 6 }), { maxLength: 4 }).map((groups) => new Set(groups)),
  });

  test(
    'any text: FilterSyntaxError or a predicate, and the predicate never throws',
    () => {
      let compiled = 0;
      fc.assert(
        fc.property(filter, fc.array(target, { minLength: 1, maxLength: 4 }), (text, connections) => {
          let predicate: ReturnType<typeof compileFilter>;
          try {
            predicate = compileFilter(text);
          } catch (error) {
            expect(error).toBeInstanceOf(FilterSyntaxError);
            return;
          }
          compiled += 1;
          for (const connection of connections) expect(typeof predicate(connection)).toBe('boolean');
        }),
        fuzzParameters(3000),
      );
      expect(compiled).toBeGreaterThan(0);
    },
    fuzzTimeout(10000),
  );

  test('a filter over the length limit is a FilterSyntaxError, not work', () => {
    expect(() => compileFilter(`userId eq '${'a'.repeat(MAX_FILTER_LENGTH)}'`)).toThrow(FilterSyntaxError);
  });
});
