/**
 * The emulator's OData filter, checked against truth that does not come from our code:
 * - the examples of "OData filter syntax in Azure Web PubSub service",
 *   https://learn.microsoft.com/azure/azure-web-pubsub/reference-odata-filter (quoted verbatim below);
 * - the filter examples of the @azure/web-pubsub reference (HubSendToUserOptions.filter),
 *   https://learn.microsoft.com/javascript/api/@azure/web-pubsub/hubsendtouseroptions;
 * - the test vectors of the official emulator, Azure/azure-webpubsub
 *   tools/emulator/tests/Microsoft.Azure.WebPubSub.Emulator.Tests/ODataFilterExecutorTests.cs;
 * - filter strings built by the SDK's own `odata` template helper, against truth tables stated by hand.
 */
import { odata } from '@azure/web-pubsub';
import {
  FilterSyntaxError,
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  compileFilter,
  type FilterTarget,
} from '../../emulator/odata';

function target(userId: string | undefined, groups: string[] = [], connectionId = 'c'): FilterTarget {
  return { connectionId, userId, groups: new Set(groups) };
}

function matches(filter: string, connection: FilterTarget): boolean {
  return compileFilter(filter)(connection);
}

function syntaxError(filter: string): FilterSyntaxError {
  try {
    compileFilter(filter);
  } catch (error) {
    if (error instanceof FilterSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected a FilterSyntaxError for ${JSON.stringify(filter)}`);
}

/** A small hub. Each truth table below names, by hand, which of these a filter selects. */
const HUB = {
  alice: target('alice', ['g1'], 'conn-1'),
  oneil: target("o'neil", ['g1', 'g2'], 'conn-2'),
  anon: target(undefined, [], 'conn-3'),
  ALICE: target('ALICE', ['g2', "it's"], 'CONN-4'),
  empty: target('', ['g1,g2'], 'conn-5'),
};
type Name = keyof typeof HUB;
const EVERYONE = Object.keys(HUB) as Name[];

function selected(filter: string): Name[] {
  const predicate = compileFilter(filter);
  return EVERYONE.filter((name) => predicate(HUB[name]));
}

describe('examples of the Azure docs page "OData filter syntax in Azure Web PubSub service"', () => {
  it.each([
    // "Identifiers" table: userId, connectionId, groups.
    ["userId eq 'user1'", target('user1'), true],
    ["userId eq 'user1'", target('user2'), false],
    ["connectionId ne '123'", target('u', [], '123'), false],
    ["connectionId ne '123'", target('u', [], '124'), true],
    ["'group1' in groups", target('u', ['group1']), true],
    ["'group1' in groups", target('u', ['group2']), false],
  ])('identifier example %s on %o is %s', (filter, connection, expected) => {
    expect(matches(filter, connection)).toBe(expected);
  });

  it.each([
    // "Supported operations" table, logical and comparison rows.
    [
      'length(userId) le 10 and length(userId) gt 3',
      ['abc', 'abcd', 'abcdefghij', 'abcdefghijk'],
      [false, true, true, false],
    ],
    [
      'length(userId) gt 10 or length(userId) le 3',
      ['abc', 'abcd', 'abcdefghij', 'abcdefghijk'],
      [true, false, false, true],
    ],
    ["not endswith(userId, 'milk')", ['oatmilk', 'milkshake'], [false, true]],
    ["userId eq 'user1'", ['user1', 'USER1'], [true, false]],
    ["userId ne 'user1'", ['user1', 'USER1'], [false, true]],
    ['length(userId) gt 10', ['abcdefghij', 'abcdefghijk'], [false, true]],
    ['length(userId) ge 10', ['abcdefghi', 'abcdefghij'], [false, true]],
    ['length(userId) lt 3', ['ab', 'abc'], [true, false]],
  ])('operator example %s', (filter, userIds, expected) => {
    expect(userIds.map((userId) => matches(filter, target(userId)))).toEqual(expected);
  });

  it('"userId eq null" and "userId ne null" tell connections without a user apart', () => {
    expect(matches('userId eq null', target(undefined))).toBe(true);
    expect(matches('userId eq null', target('user1'))).toBe(false);
    expect(matches('userId ne null', target(undefined))).toBe(false);
    expect(matches('userId ne null', target('user1'))).toBe(true);
  });

  it.each([
    // "String Functions" rows: "<filter> can match connections for user <user>".
    ["tolower(userId) eq 'user1'", 'USER1'],
    ["toupper(userId) eq 'USER1'", 'user1'],
    ["trim(userId) eq 'user1'", ' user1 '],
    ["substring(userId,5,2) eq 'ab'", 'user-ab-de'],
    ["endswith(userId,'de')", 'user-ab-de'],
    ["startswith(userId,'user')", 'user-ab-de'],
    ["indexof(userId,'-ab-') ge 0", 'user-ab-de'],
    ['length(userId) gt 1', 'user-ab-de'],
  ])('string function example %s can match user %j', (filter, userId) => {
    expect(matches(filter, target(userId))).toBe(true);
    expect(matches(filter, target('x'))).toBe(false);
  });

  it('"length(groups) gt 1" can match connections in two groups', () => {
    expect(matches('length(groups) gt 1', target('u', ['a', 'b']))).toBe(true);
    expect(matches('length(groups) gt 1', target('u', ['a']))).toBe(false);
  });

  it('"indexof ... Returns -1 if p0 doesn\'t contain p1"', () => {
    expect(matches("indexof(userId,'zz') eq -1", target('user-ab-de'))).toBe(true);
  });

  it('the two expressions the "Operator precedence" section calls equivalent agree for every length', () => {
    const terse =
      'length(userId) gt 0 and length(userId) lt 3 or length(userId) gt 7 and length(userId) lt 10';
    const explicit =
      '((length(userId) gt 0) and (length(userId) lt 3)) or ((length(userId) gt 7) and (length(userId) lt 10))';
    // By hand: true for lengths 1, 2, 8 and 9; false for no user at all.
    const users = [undefined, ...Array.from({ length: 13 }, (_, n) => 'x'.repeat(n))];
    const expected = [
      false, // no user
      ...[false, true, true, false, false, false, false, false, true, true, false, false, false], // lengths 0-12
    ];
    expect(users.map((userId) => matches(terse, target(userId)))).toEqual(expected);
    expect(users.map((userId) => matches(explicit, target(userId)))).toEqual(expected);
  });

  it('"not length(userId) gt 5" is an error because not binds to length(userId); the fix in parentheses works', () => {
    const error = syntaxError('not length(userId) gt 5');
    expect(error.position).toBe(4);
    expect(error.message).toContain("'not' needs a true/false condition, but length(userId) is an integer");
    expect(matches('not (length(userId) gt 5)', target('abcdef'))).toBe(false);
    expect(matches('not (length(userId) gt 5)', target('abc'))).toBe(true);
  });

  it.each([
    // "Examples" 1-5, with their "filter=" prefix removed.
    ["'group1' in groups or 'group2' in groups or 'group3' in groups", target('u', ['group3']), true],
    ["'group1' in groups or 'group2' in groups or 'group3' in groups", target('u', ['group4']), false],
    ["userId in ('user1', 'user2', 'user3') and 'group1' in groups", target('user2', ['group1']), true],
    ["userId in ('user1', 'user2', 'user3') and 'group1' in groups", target('user2', ['group2']), false],
    ["userId in ('user1', 'user2', 'user3') and 'group1' in groups", target('user4', ['group1']), false],
    ["userId eq 'user1' and connectionId ne '123'", target('user1', [], '456'), true],
    ["userId eq 'user1' and connectionId ne '123'", target('user1', [], '123'), false],
    ["userId eq 'user1' and (not ('group1' in groups))", target('user1', ['group2']), true],
    ["userId eq 'user1' and (not ('group1' in groups))", target('user1', ['group1']), false],
    ["userId eq 'user''1'", target("user'1"), true],
    ["userId eq 'user''1'", target('user1'), false],
  ])('example %s on %o is %s', (filter, connection, expected) => {
    expect(matches(filter, connection)).toBe(expected);
  });

  it('rejects the two malformed examples of the operations table (unknown identifier `user`, a missing `)`)', () => {
    // The `le` row shows "user in ('user1','user2')": `user` is not one of the three identifiers.
    expect(syntaxError("user in ('user1','user2')").message).toContain("unknown identifier 'user'");
    // The grouping row opens three parentheses and closes two.
    const grouping = syntaxError("userId eq 'user1' or (not (startswith(userId,'user2'))");
    expect(grouping.message).toContain("expected ')' to close the '(' at position 21");
    expect(grouping.position).toBe("userId eq 'user1' or (not (startswith(userId,'user2'))".length);
  });
});

describe('examples of the @azure/web-pubsub reference (HubSendToUserOptions.filter)', () => {
  it('"Exclude connections in group1: not(\'group1\' in groups)"', () => {
    expect(matches("not('group1' in groups)", target('u', ['group1']))).toBe(false);
    expect(matches("not('group1' in groups)", target('u', ['group2']))).toBe(true);
  });

  it('rejects "\'group1\' in groups or group2 in groups": the unquoted group2 is an unknown identifier', () => {
    const error = syntaxError("'group1' in groups or group2 in groups");
    expect(error.message).toContain("unknown identifier 'group2'");
    expect(error.position).toBe(22);
  });
});

describe('test vectors of the official emulator (ODataFilterExecutorTests.cs)', () => {
  it.each([
    ["userId eq 'a'", 'a', true],
    ["userId eq 'a'", 'A', false],
    ['userId eq null', undefined, true],
    ["userId in ('user1', 'user2')", 'user2', true],
    ["userId in ('Doe, John', 'Alice')", 'Doe, John', true],
    ["userId in ('O''Brien, Jane', 'Alice')", "O'Brien, Jane", true],
    ["substring(userId, 1, 1) eq 'b'", 'abc', true],
    ["substring(userId, 1) eq 'b'", '', false],
    ["substring(userId, 1, 2) eq 'bc'", 'a', false],
    ["contains(userId, 'b')", 'aaa', false],
  ])('%s with userId %j is %s', (filter, userId, expected) => {
    expect(matches(filter, target(userId))).toBe(expected);
  });

  it("matches on connectionId and 'group2' in groups together", () => {
    const connection = target(undefined, ['group1', 'group2'], 'connection-1');
    expect(matches("connectionId eq 'connection-1' and 'group2' in groups", connection)).toBe(true);
  });

  it.each(["( not 'a' )", 'userId lt 1', 'invalid(ab,c)', 'ab eq 1'])(
    'rejects %s, as the service runtime does',
    (filter) => {
      expect(() => compileFilter(filter)).toThrow(FilterSyntaxError);
    },
  );
});

describe('filters built with the SDK helper odata`...`', () => {
  const TRICKY = [
    "o'neil",
    "'",
    "''",
    "a' or '1' eq '1",
    "x') or ('1' eq '1",
    'comma, inside',
    'paren) or (true',
    ' padded ',
    'ünïcødé 😀',
    '',
    'null',
    'and',
  ];
  const people = TRICKY.map((userId, i) => target(userId, [userId], `conn-${i}`));
  const everyone = [...people, target(undefined, [], 'anonymous')];
  const whoMatches = (filter: string): (string | undefined)[] => {
    const predicate = compileFilter(filter);
    return everyone.filter(predicate).map((connection) => connection.userId);
  };

  it.each(TRICKY)('odata`userId eq ${%j}` selects exactly that user', (value) => {
    expect(whoMatches(odata`userId eq ${value}`)).toEqual([value]);
  });

  it.each(TRICKY)("odata`userId eq '${%j}'` (quotes written by hand) selects exactly that user", (value) => {
    expect(whoMatches(odata`userId eq '${value}'`)).toEqual([value]);
  });

  it.each(TRICKY)(
    'odata`userId ne ${%j}` selects everyone else, the anonymous connection included',
    (value) => {
      expect(whoMatches(odata`userId ne ${value}`)).toEqual([
        ...TRICKY.filter((other) => other !== value),
        undefined,
      ]);
    },
  );

  it.each(TRICKY)('odata`${%j} in groups` selects the one connection in that group', (value) => {
    expect(whoMatches(odata`${value} in groups`)).toEqual([value]);
  });

  it('odata`userId in (${a}, ${b})` keeps commas, quotes and parentheses inside the values', () => {
    expect(whoMatches(odata`userId in (${'comma, inside'}, ${"o'neil"})`)).toEqual([
      "o'neil",
      'comma, inside',
    ]);
    expect(whoMatches(odata`userId in (${'paren) or (true'})`)).toEqual(['paren) or (true']);
  });

  it('odata`userId eq ${null}` selects the connection without a user', () => {
    expect(odata`userId eq ${null}`).toBe('userId eq null');
    expect(whoMatches(odata`userId eq ${null}`)).toEqual([undefined]);
  });

  it('numbers and prefixes pass through odata`...` too', () => {
    expect(whoMatches(odata`length(userId) gt ${14}`)).toEqual([
      "a' or '1' eq '1",
      "x') or ('1' eq '1",
      'paren) or (true',
    ]);
    expect(whoMatches(odata`startswith(userId, ${"o'"})`)).toEqual(["o'neil"]);
    expect(whoMatches(odata`startswith(userId, ${"'"})`)).toEqual(["'", "''"]);
  });
});

describe('operators', () => {
  it.each<[string, Name[]]>([
    ["userId eq 'alice'", ['alice']],
    ["userId ne 'alice'", ['oneil', 'anon', 'ALICE', 'empty']],
    ['length(userId) gt 4', ['alice', 'oneil', 'ALICE']],
    ['length(userId) ge 6', ['oneil']],
    ['length(userId) lt 5', ['empty']],
    ['length(userId) le 5', ['alice', 'ALICE', 'empty']],
    ['length(groups) eq 2', ['oneil', 'ALICE']],
    ['length(groups) lt 1', ['anon']],
    ["'g1' in groups and 'g2' in groups", ['oneil']],
    ["'g1' in groups or 'g2' in groups", ['alice', 'oneil', 'ALICE']],
    ["not ('g1' in groups)", ['anon', 'ALICE', 'empty']],
    ["userId in ('alice', 'ALICE')", ['alice', 'ALICE']],
    ["userId in ('alice')", ['alice']],
    ["connectionId in ('conn-1', 'conn-4')", ['alice']],
    ["'g1,g2' in groups", ['empty']],
    ["'it''s' in groups", ['ALICE']],
    ["'g1' in (groups)", ['alice', 'oneil']],
    ['userId in groups', []],
    ["'conn-1' in (userId, connectionId)", ['alice']],
    ["'ALICE' in (toupper(userId), 'nobody')", ['alice', 'ALICE']],
    ['true', EVERYONE],
    ['false', []],
    ["(userId eq 'alice')", ['alice']],
    ["userId eq 'alice' eq true", ['alice']],
    ['userId eq connectionId', []],
    ['length(userId) eq length(connectionId)', ['oneil']],
  ])('%s selects %j', (filter, expected) => {
    expect(selected(filter)).toEqual(expected);
  });
});

describe('functions', () => {
  it.each<[string, Name[]]>([
    ["contains(userId, 'li')", ['alice']],
    ["contains(tolower(userId), 'li')", ['alice', 'ALICE']],
    ["startswith(connectionId, 'conn-')", ['alice', 'oneil', 'anon', 'empty']],
    ["endswith(userId, 'E')", ['ALICE']],
    ["tolower(userId) eq 'alice'", ['alice', 'ALICE']],
    ["toupper(userId) eq 'ALICE'", ['alice', 'ALICE']],
    ["trim(concat(' ', userId)) eq userId", ['alice', 'oneil', 'ALICE', 'empty']],
    ["concat(userId, connectionId) eq 'aliceconn-1'", ['alice']],
    ["indexof(userId, 'l') eq 1", ['alice']],
    ["indexof(userId, 'x') eq -1", EVERYONE],
    ["substring(connectionId, 5) eq '1'", ['alice']],
    ["substring(userId, 1, 3) eq 'lic'", ['alice']],
    ["substring(userId, 0, 0) eq ''", ['alice', 'oneil', 'ALICE', 'empty']],
    ["substring(userId, length(userId)) eq ''", ['alice', 'oneil', 'ALICE', 'empty']],
    ['substring(userId, 6) eq null', ['alice', 'anon', 'ALICE', 'empty']],
    ['substring(userId, -1) eq null', EVERYONE],
    ['substring(userId, 0, 6) eq null', ['alice', 'anon', 'ALICE', 'empty']],
    ["contains(userId, '')", ['alice', 'oneil', 'ALICE', 'empty']],
  ])('%s selects %j', (filter, expected) => {
    expect(selected(filter)).toEqual(expected);
  });

  it('map case one character at a time and keep the length, as .NET invariant casing does', () => {
    expect(matches("toupper(userId) eq 'STRASSE'", target('straße'))).toBe(false);
    expect(matches("toupper(userId) eq 'STRAßE'", target('straße'))).toBe(true);
    expect(matches("tolower(userId) eq 'σοφοσ'", target('ΣΟΦΟΣ'))).toBe(true);
  });

  it('trim what .NET String.Trim() trims: U+0085 and U+3000 go, U+FEFF stays', () => {
    expect(matches("trim(userId) eq 'x'", target('\u0085\u3000x\t\n'))).toBe(true);
    expect(matches("trim(userId) eq 'x'", target('\ufeffx'))).toBe(false);
  });
});

describe('null', () => {
  it.each<[string, Name[]]>([
    ['userId eq null', ['anon']],
    ['null eq userId', ['anon']],
    ['userId ne null', ['alice', 'oneil', 'ALICE', 'empty']],
    ["userId eq ''", ['empty']],
    ['null eq null', EVERYONE],
    ['null ne null', []],
    ['length(userId) eq null', ['anon']],
    ['length(userId) gt -1', ['alice', 'oneil', 'ALICE', 'empty']],
    ['not (length(userId) gt -1)', ['anon']],
    ['length(userId) gt null', []],
    ['null lt 1', []],
    ['tolower(userId) eq null', ['anon']],
    ['startswith(userId, null)', []],
    ['concat(null, null) eq null', EVERYONE],
    ["concat(userId, 'x') eq 'x'", ['anon', 'empty']],
    ["userId in ('alice', null)", ['alice', 'anon']],
    ['null in groups', []],
    ['substring(userId, 0) eq null', ['anon']],
  ])('%s selects %j', (filter, expected) => {
    expect(selected(filter)).toEqual(expected);
  });
});

describe('precedence: in, then not, then comparisons, then and, then or', () => {
  it.each<[string, Name[]]>([
    ["userId eq 'alice' or userId eq 'ALICE' and 'g2' in groups", ['alice', 'ALICE']],
    ["(userId eq 'alice' or userId eq 'ALICE') and 'g2' in groups", ['ALICE']],
    ["not 'g1' in groups or userId eq 'alice'", ['alice', 'anon', 'ALICE', 'empty']],
    ["not ('g1' in groups or userId eq 'alice')", ['anon', 'ALICE', 'empty']],
    ["'g1' in groups eq false", ['anon', 'ALICE', 'empty']],
    ['true or false and false', EVERYONE],
    ['false and true or true', EVERYONE],
    ['not false and false', []],
    ['not not true', EVERYONE],
  ])('%s selects %j', (filter, expected) => {
    expect(selected(filter)).toEqual(expected);
  });

  it('rejects "not userId eq \'alice\'": not takes userId alone, a string', () => {
    const error = syntaxError("not userId eq 'alice'");
    expect(error.message).toContain("'not' needs a true/false condition, but userId is a string");
    expect(error.position).toBe(4);
  });
});

describe('case and spacing', () => {
  it.each([
    "USERID eq 'alice'",
    "UserId eq 'alice'",
    "userid eq 'alice'",
    "CONNECTIONID eq 'conn-1'",
    "'g1' in GROUPS and userId eq 'alice'",
  ])('identifiers are case-insensitive: %s', (filter) => {
    expect(selected(filter)).toEqual(['alice']);
  });

  it('values are case-sensitive', () => {
    expect(selected("userId eq 'Alice'")).toEqual([]);
    expect(selected("'G1' in groups")).toEqual([]);
  });

  it.each<[string, number, string]>([
    ["userId EQ 'alice'", 7, "found 'EQ'; keywords are lowercase: 'eq'"],
    ["userId eq 'alice' AND true", 18, "found 'AND'; keywords are lowercase: 'and'"],
    ["userId eq 'alice' Or true", 18, "found 'Or'; keywords are lowercase: 'or'"],
    ["NOT (userId eq 'alice')", 0, "unknown function 'NOT'; keywords are lowercase: 'not'"],
    ["userId IN ('alice')", 7, "found 'IN'; keywords are lowercase: 'in'"],
    ['TRUE', 0, "unknown identifier 'TRUE'; keywords and literals are lowercase: 'true'"],
    ['userId eq NULL', 10, "unknown identifier 'NULL'; keywords and literals are lowercase: 'null'"],
    ['Length(userId) gt 1', 0, "unknown function 'Length'; function names are lowercase: 'length'"],
    ["TOLOWER(userId) eq 'a'", 0, "unknown function 'TOLOWER'; function names are lowercase: 'tolower'"],
  ])('keywords, literals and function names are lowercase: %s fails at %i', (filter, position, message) => {
    const error = syntaxError(filter);
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
  });

  it('accepts any .NET whitespace between tokens and none where a parenthesis separates them', () => {
    expect(selected("userId\teq\n'alice'\u00a0and\u3000true")).toEqual(['alice']);
    expect(selected("not('g1' in groups)")).toEqual(['anon', 'ALICE', 'empty']);
    expect(selected("length (userId) eq 5 and userId in('alice')")).toEqual(['alice']);
    expect(selected("  userId eq 'alice'  ")).toEqual(['alice']);
  });

  it('reads signed integers', () => {
    expect(selected('length(userId) gt +5')).toEqual(['oneil']);
    expect(selected('-1 lt length(userId)')).toEqual(['alice', 'oneil', 'ALICE', 'empty']);
  });
});

describe('syntax errors name what is wrong and where', () => {
  it.each<[string, string, number, string]>([
    ['empty', '', 0, 'the filter is empty'],
    ['blank', ' \t ', 0, 'the filter is empty'],
    ['unterminated string', "userId eq 'abc", 10, 'string literal that starts here is not closed'],
    ['double quotes', 'userId eq "abc"', 10, "unexpected character '\"': string literals use single quotes"],
    ['symbolic operator', "userId == 'a'", 7, "unexpected character '=': comparisons are written eq, ne"],
    ['symbolic logic', "userId eq 'a' && true", 14, "unexpected character '&'"],
    ['path', "userId/x eq 'a'", 6, "unexpected character '/'"],
    [
      'arithmetic',
      'length(userId) eq -length(userId)',
      18,
      "unexpected character '-': arithmetic is not supported",
    ],
    ['decimal', 'length(userId) gt 1.5', 18, "'1.5' is not a supported literal"],
    ['int64', 'length(userId) gt 2147483648', 18, 'the integer 2147483648 is outside the 32-bit range'],
    ['unknown identifier', "protocol eq 'json.webpubsub.azure.v1'", 0, "unknown identifier 'protocol'"],
    ['unknown function', 'invalid(ab,c)', 0, "unknown function 'invalid'; the functions are contains"],
    ['identifier called', "userId('x')", 0, "unknown function 'userId'"],
    ['too many arguments', "length(userId, 'x') gt 1", 0, 'length() takes 1 argument, but 2 were given'],
    [
      'too few arguments',
      "substring(userId) eq 'a'",
      0,
      'substring() takes 2 or 3 arguments, but 1 was given',
    ],
    ['no arguments', 'trim() eq null', 0, 'trim() takes 1 argument, but 0 were given'],
    [
      'string for an int',
      "substring(userId, '1') eq 'a'",
      18,
      "argument 2 of substring() must be an integer, but '1' is a string",
    ],
    [
      'null for an int',
      "substring(userId, null) eq 'a'",
      18,
      'argument 2 of substring() must be an integer, but null is null',
    ],
    [
      'collection for a string',
      "contains(groups, 'g1')",
      9,
      'argument 1 of contains() must be a string, but groups is a collection',
    ],
    ['int for a string', 'tolower(5) eq null', 8, 'argument 1 of tolower() must be a string'],
    ['not a condition', 'userId', 0, 'a filter needs a true/false condition, but userId is a string'],
    ['int as a condition', 'length(userId)', 0, 'but length(userId) is an integer'],
    [
      'and of a string',
      "userId eq 'a' and 'b'",
      18,
      "'and' needs a true/false condition, but 'b' is a string",
    ],
    ['or of null', 'true or null', 8, "'or' needs a true/false condition, but null is null"],
    ['ordering of strings', "userId lt 'b'", 0, "'lt' compares integers, but userId is a string"],
    ['ordering of booleans', 'true gt false', 0, "'gt' compares integers, but true is a boolean"],
    ['ordering of a string and an int', 'userId lt 1', 0, "'lt' compares integers, but userId is a string"],
    ['collection compared', "groups eq 'g1'", 0, "'eq' cannot compare a collection"],
    ['in a string', "'a' in userId", 7, "the right side of 'in' must be a parenthesized list"],
    [
      'collection in',
      'groups in groups',
      0,
      "the left side of 'in' must be a single value, but groups is a collection",
    ],
    [
      'collection in a list',
      "userId in ('a', groups)",
      16,
      "a list after 'in' holds single values, but groups is a collection",
    ],
    ['empty list', 'userId in ()', 11, "expected a value: a 'string', an integer"],
    ['trailing comma', "userId in ('a',)", 15, "expected a value: a 'string', an integer"],
    [
      'missing comma',
      "userId in ('a' 'b')",
      15,
      "expected ',' or ')' to continue the list that opens at position 10, found the string 'b'",
    ],
    [
      'unclosed parenthesis',
      "(userId eq 'a'",
      14,
      "expected ')' to close the '(' at position 0, found the end of the filter",
    ],
    [
      'stray parenthesis',
      "userId eq 'a')",
      13,
      "expected 'and', 'or', a comparison (eq, ne, gt, ge, lt, le), 'in' or the end of the filter, found ')'",
    ],
    ['two values', "userId eq 'a' 'b'", 14, "found the string 'b'"],
    ['unsupported operator', "userId has 'a'", 7, "found 'has'"],
    ['missing right operand', 'userId eq', 9, 'expected a value'],
    [
      'missing left operand',
      "eq 'a'",
      0,
      "expected a value: a 'string', an integer, true, false, null, userId, connectionId, groups, a function call or '(', found 'eq'",
    ],
    ['dangling or', "userId eq 'a' or", 16, 'found the end of the filter'],
    [
      'missing argument comma',
      "contains(userId 'a')",
      16,
      "expected ',' or ')' in the arguments of contains() that open at position 8, found the string 'a'",
    ],
  ])('%s: %j fails at %i', (_name, filter, position, message) => {
    const error = syntaxError(filter);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('FilterSyntaxError');
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
    expect(error.message).toContain(`(at position ${position})`);
  });
});

describe('limits', () => {
  it(`accepts ${MAX_FILTER_LENGTH} characters and refuses one more`, () => {
    const longest = `true${' '.repeat(MAX_FILTER_LENGTH - 4)}`;
    expect(compileFilter(longest)(HUB.alice)).toBe(true);
    const error = syntaxError(`${longest} `);
    expect(error.position).toBe(MAX_FILTER_LENGTH);
    expect(error.message).toContain(
      `the filter is ${MAX_FILTER_LENGTH + 1} characters long; the limit is ${MAX_FILTER_LENGTH}`,
    );
  });

  it(`accepts ${MAX_FILTER_DEPTH} nested levels and refuses ${MAX_FILTER_DEPTH + 1}`, () => {
    const nested = (levels: number): string => `${'('.repeat(levels)}true${')'.repeat(levels)}`;
    expect(compileFilter(nested(MAX_FILTER_DEPTH))(HUB.alice)).toBe(true);
    const error = syntaxError(nested(MAX_FILTER_DEPTH + 1));
    expect(error.position).toBe(MAX_FILTER_DEPTH);
    expect(error.message).toContain(`the filter nests more than ${MAX_FILTER_DEPTH} levels deep`);

    expect(compileFilter(`${'not '.repeat(MAX_FILTER_DEPTH)}true`)(HUB.alice)).toBe(true);
    expect(syntaxError(`${'not '.repeat(MAX_FILTER_DEPTH + 1)}true`).position).toBe(4 * MAX_FILTER_DEPTH);
    const calls = (levels: number): string =>
      `${'tolower('.repeat(levels)}userId${')'.repeat(levels)} eq 'alice'`;
    expect(selected(calls(MAX_FILTER_DEPTH))).toEqual(['alice', 'ALICE']);
    expect(() => compileFilter(calls(MAX_FILTER_DEPTH + 1))).toThrow(FilterSyntaxError);
  });

  it('answers a hostile filter as deep as the length limit allows with a FilterSyntaxError, not a stack overflow', () => {
    const half = MAX_FILTER_LENGTH / 2 - 2;
    expect(() => compileFilter(`${'('.repeat(half)}true${')'.repeat(half)}`)).toThrow(FilterSyntaxError);
    expect(() => compileFilter(`${'not '.repeat(MAX_FILTER_LENGTH / 4 - 1)}true`)).toThrow(FilterSyntaxError);
    expect(() => compileFilter(`true${' eq true'.repeat(MAX_FILTER_LENGTH / 8 - 1)}`)).toThrow(
      FilterSyntaxError,
    );
    expect(() => compileFilter(`'a'${' in groups'.repeat(MAX_FILTER_LENGTH / 10 - 1)}`)).toThrow(
      FilterSyntaxError,
    );
  });

  it('takes a chain of hundreds of or-clauses without nesting', () => {
    const clauses = Array.from({ length: 300 }, (_, i) => odata`userId eq ${`user${i}`}`);
    const filter = [...clauses, "userId eq 'alice'"].join(' or ');
    expect(filter.length).toBeLessThan(MAX_FILTER_LENGTH);
    expect(selected(filter)).toEqual(['alice']);
    expect(compileFilter(filter)(target('user299'))).toBe(true);
  });

  it('counts chained comparisons as nesting but not short chains', () => {
    expect(selected("userId eq 'alice' eq true eq true eq true")).toEqual(['alice']);
  });
});
