import { odata } from '@azure/web-pubsub';
import type { CoreRequest } from '../../src/http/types';
import { ProblemError } from '../../src/protocol/errors';
import {
  groupNameProblem,
  hubNameProblem,
  isValidConnectionId,
  isValidUserId,
} from '../../src/protocol/names';
import { filterProblem } from '../../src/push/filter';
import {
  clientRequestId,
  messageContentType,
  parseNames,
  parseQuery,
  readMessage,
} from '../../src/push/request';

function request(
  params: Record<string, string>,
  init: { contentType?: string; body?: Uint8Array } = {},
): CoreRequest {
  return {
    method: 'POST',
    url: 'https://app.example/api/x',
    headers: { get: (name) => (name === 'content-type' ? (init.contentType ?? null) : null) },
    params,
    readBody: () => Promise.resolve(init.body ?? new Uint8Array(0)),
  };
}

function problemOf(action: () => unknown): ProblemError {
  try {
    action();
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error('expected a problem');
}

async function asyncProblemOf(action: () => Promise<unknown>): Promise<ProblemError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error('expected a problem');
}

describe('name rules of the REST spec (hub pattern, group 1-1024 and not blank, ids not empty)', () => {
  // The group pattern as @azure/web-pubsub 1.2.0's generated parameter carries it (parameters.js, `group`).
  const SDK_GROUP_PATTERN = /^(?!\s+$).+$/;
  const SDK_HUB_PATTERN = /^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$/;

  it.each(['chat', 'Chat_Hub', 'a', `h${'a'.repeat(127)}`, 'x`,.[]'])('accepts hub %j', (hub) => {
    expect(SDK_HUB_PATTERN.test(hub)).toBe(true);
    expect(hubNameProblem(hub)).toBeUndefined();
  });

  it.each(['', '1chat', '_chat', 'chat-room', 'chat room', `h${'a'.repeat(128)}`, 'chät'])(
    'refuses hub %j',
    (hub) => {
      expect(SDK_HUB_PATTERN.test(hub)).toBe(false);
      expect(hubNameProblem(hub)).toBeDefined();
    },
  );

  it.each(['g', ' g ', 'group 1/ü', 'g'.repeat(1024), "o'neil", '\u0000'])('accepts group %j', (group) => {
    expect(SDK_GROUP_PATTERN.test(group)).toBe(true);
    expect(groupNameProblem(group)).toBeUndefined();
  });

  it.each([
    ['', 'must not be empty'],
    [' ', 'must not be blank'],
    ['\t\n ', 'must not be blank'],
    ['g'.repeat(1025), 'must be at most 1024 characters long'],
    ['a\nb', 'must not contain line breaks'],
    ['a\u2028b', 'must not contain line breaks'],
  ])('refuses group %j: %s', (group, reason) => {
    if (group.length <= 1024) expect(SDK_GROUP_PATTERN.test(group)).toBe(false);
    expect(groupNameProblem(group)).toBe(reason);
  });

  it('takes any non-empty user id and connection id', () => {
    expect(isValidUserId(' ')).toBe(true);
    expect(isValidConnectionId('c')).toBe(true);
    expect(isValidUserId('')).toBe(false);
    expect(isValidConnectionId('')).toBe(false);
  });

  it('resolves the hub to its configured spelling and refuses unserved hubs with 404', () => {
    expect(parseNames(request({ hub: 'CHAT' }), [], ['Chat']).hub).toBe('Chat');
    const unknown = problemOf(() => parseNames(request({ hub: 'other' }), [], ['Chat']));
    expect([unknown.status, unknown.code]).toEqual([404, 'unknown-hub']);
  });

  it('refuses empty ids that another host might pass through', () => {
    expect(problemOf(() => parseNames(request({ hub: 'chat', userId: '' }), ['userId'], ['chat'])).code).toBe(
      'invalid-user-id',
    );
    expect(problemOf(() => parseNames(request({ hub: 'chat' }), ['connectionId'], ['chat'])).code).toBe(
      'invalid-connection-id',
    );
  });
});

describe('filter check', () => {
  it.each([
    "userId eq 'a'",
    "userId ne 'o''neil' and not ('g1' in groups)",
    "length(userId) gt 5 or startswith(connectionId, 'abc')",
    'userId eq null',
    "substring(userId, 1, 2) eq 'bc'",
    "userId in ('a', 'b', 'c')",
    "userId eq ''",
    'length(userId) ge -1',
  ])('accepts %j', (filter) => {
    expect(filterProblem(filter)).toBeUndefined();
  });

  it.each([
    ['', 'must not be empty'],
    ['   ', 'must not be empty'],
    ["userId eq 'a", 'has a string literal opened at position 10 and never closed'],
    ["userId eq 'a''", 'has a string literal opened at position 10 and never closed'],
    ['userId eq "a"', 'has "\\"" at position 10'],
    ["userId eq 'a';", 'has ";" at position 13'],
    ['userId\u0000', 'has "\\u0000" at position 6'],
    ["(userId eq 'a'", 'has 1 unclosed "("'],
    ["userId eq 'a')", 'has a ")" at position 13 that closes nothing'],
    ['$filter=x', 'has "$" at position 0'],
    ['userId eq ü', 'has "ü" at position 10'],
  ])('refuses %j', (filter, reason) => {
    expect(filterProblem(filter)).toContain(reason);
  });

  // Values built in code go through the SDK's odata helper; whatever it writes must pass.
  it.each(["o'neil", "''", "'", 'a)b(', ';$"', '\u0000\n', 'ünï 𝄞', '', 'x\\y'])(
    'accepts what the SDK odata helper writes for %j',
    (value) => {
      const filter = odata`userId eq ${value} or ${value} in groups or userId ne ${null} or length(userId) gt ${3}`;
      expect(filterProblem(filter)).toBeUndefined();
    },
  );
});

describe('query parameters', () => {
  const url = (query: string): URL => new URL(`https://app.example/api/hubs/chat/messages?${query}`);

  it('maps filter, repeated excluded and ttl, ignoring the function key', () => {
    expect(
      parseQuery(url('code=k&filter=userId%20eq%20null&excluded=a&excluded=b&ttl=0'), [
        'filter',
        'excluded',
        'ttl',
      ]),
    ).toEqual({
      filter: 'userId eq null',
      excluded: ['a', 'b'],
      ttl: 0,
    });
  });

  it.each([
    ['ttl=300', 300],
    ['ttl=007', 7],
  ])('reads %s', (query, ttl) => {
    expect(parseQuery(url(query), ['ttl']).ttl).toBe(ttl);
  });

  it.each([
    ['ttl=301', 'invalid-ttl'],
    ['ttl=1e2', 'invalid-ttl'],
    ['ttl=%205', 'invalid-ttl'],
    ['ttl=1&ttl=1', 'duplicate-query-parameter'],
    ['nope=1', 'unknown-query-parameter'],
    ['reason=x', 'unsupported-query-parameter'],
    ['excluded=', 'invalid-excluded'],
    ['filter=%22', 'invalid-filter'],
  ])('refuses %s with %s', (query, code) => {
    const problem = problemOf(() => parseQuery(url(query), ['ttl', 'excluded', 'filter']));
    expect([problem.status, problem.code]).toEqual([400, code]);
  });

  it('names the parameters a route takes when refusing one', () => {
    expect(problemOf(() => parseQuery(url('filter=a'), ['ttl'])).detail).toBe(
      'This route does not take the query parameter "filter"; it takes ttl.',
    );
  });
});

describe('message bodies', () => {
  it.each([
    ['application/json', 'application/json'],
    ['Application/JSON; charset=UTF-8', 'application/json'],
    ['text/plain', 'text/plain'],
    ['text/plain; charset="utf-8"', 'text/plain'],
    ['application/octet-stream; foo=bar', 'application/octet-stream'],
  ])('takes %j as %s', (header, type) => {
    expect(messageContentType(header)).toBe(type);
  });

  it.each([null, '', 'text/html', 'application/json-seq', 'text/plain; charset=utf-16', 'application/*'])(
    'refuses %j with 415',
    (header) => {
      expect(problemOf(() => messageContentType(header)).status).toBe(415);
    },
  );

  it('refuses invalid UTF-8 in text and malformed JSON with 400, and keeps binary as it is', async () => {
    const bad = new Uint8Array([0xff]);
    expect(
      (await asyncProblemOf(() => readMessage(request({}, { contentType: 'text/plain', body: bad })))).code,
    ).toBe('invalid-utf8');
    const json = new TextEncoder().encode('{');
    expect(
      (await asyncProblemOf(() => readMessage(request({}, { contentType: 'application/json', body: json }))))
        .code,
    ).toBe('invalid-json');
    const message = await readMessage(request({}, { contentType: 'application/octet-stream', body: bad }));
    expect(message).toEqual({ contentType: 'application/octet-stream', bytes: bad });
  });

  it('reads at most 1 MiB', async () => {
    let limit = 0;
    await readMessage({
      ...request({}, { contentType: 'application/octet-stream' }),
      readBody: (max) => {
        limit = max;
        return Promise.resolve(new Uint8Array(0));
      },
    });
    expect(limit).toBe(1024 * 1024);
  });
});

describe('client request id', () => {
  const headers = (value: string | null) => ({ get: () => value });
  it.each(['abc', 'order-42.attempt_1:x', 'A'.repeat(128)])('keeps %j', (id) => {
    expect(clientRequestId(headers(id), () => 'new')).toBe(id);
  });
  it.each([null, '', 'a b', 'A'.repeat(129), 'é', 'a\r\nx-injected: 1'])('replaces %j', (id) => {
    expect(clientRequestId(headers(id), () => 'new')).toBe('new');
  });
});
