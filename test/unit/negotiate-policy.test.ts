import type { Caller } from '../../src/identity/caller';
import { createNegotiatePolicy, type NegotiatePolicyOptions } from '../../src/negotiate/policy';
import { ProblemError } from '../../src/protocol/errors';
import { compileGroupPattern, escapeGroupPattern, parseRole } from '../../src/protocol/roles';

/**
 * Negotiate's authorisation: which hub, which groups, which roles. The wildcard rules are the ones the
 * service documents for `webpubsub.joinLeaveGroups.<pattern>` roles (concept-client-protocols).
 */
const OPTIONS: NegotiatePolicyOptions = {
  hubs: ['chat', 'Ops_Hub'],
  defaultHub: 'chat',
  allowedGroups: ['lobby', 'room.*', 'user.{userId}', 'team.{userId}.**'],
  roles: [],
  groupPermissions: ['joinLeaveGroup', 'sendToGroup'],
  allowHubWideRoles: false,
  tokenLifetimeMinutes: 60,
};

function caller(overrides: Partial<Caller> = {}): Caller {
  return { userId: 'alice', roles: [], groups: [], via: 'bearer', ...overrides };
}

function decide(query: string, who: Caller = caller(), options: Partial<NegotiatePolicyOptions> = {}) {
  return createNegotiatePolicy({ ...OPTIONS, ...options }).decide(new URLSearchParams(query), who);
}

function refusal(
  query: string,
  who: Caller = caller(),
  options: Partial<NegotiatePolicyOptions> = {},
): ProblemError {
  let caught: unknown;
  try {
    decide(query, who, options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProblemError);
  return caught as ProblemError;
}

describe('hub', () => {
  it('is the default hub when not asked for', () => {
    expect(decide('').hub).toBe('chat');
    expect(decide('hub=').hub).toBe('chat');
  });

  it('is one of the served hubs, case-insensitively, spelled as configured', () => {
    expect(decide('hub=ops_hub').hub).toBe('Ops_Hub');
    expect(decide('hub=CHAT').hub).toBe('chat');
  });

  it('403 hub-not-allowed for a valid hub that is not served', () => {
    expect(refusal('hub=admin')).toMatchObject({ status: 403, code: 'hub-not-allowed' });
  });

  it('400 invalid-hub for a name the service would refuse', () => {
    expect(refusal('hub=1bad')).toMatchObject({ status: 400, code: 'invalid-hub' });
    expect(refusal('hub=a%2Fb')).toMatchObject({ status: 400, code: 'invalid-hub' });
  });

  it('400 when hub is given twice', () => {
    expect(refusal('hub=chat&hub=Ops_Hub')).toMatchObject({ status: 400, code: 'invalid-query' });
  });
});

describe('protocol', () => {
  it.each([
    ['', 'default'],
    ['protocol=default', 'default'],
    ['protocol=mqtt', 'mqtt'],
    ['protocol=MQTT', 'mqtt'],
    ['protocol=socketio', 'socketio'],
  ])('%j -> %s', (query, protocol) => {
    expect(decide(query).protocol).toBe(protocol);
  });

  it('400 invalid-protocol otherwise', () => {
    expect(refusal('protocol=signalr')).toMatchObject({ status: 400, code: 'invalid-protocol' });
  });
});

describe('groups', () => {
  it('grants requested groups within the allow-list, comma-separated or repeated, once each, in order', () => {
    expect(decide('groups=lobby,room.1&groups=room.2, lobby').groups).toEqual(['lobby', 'room.1', 'room.2']);
  });

  it('substitutes the caller into {userId} patterns', () => {
    expect(decide('groups=user.alice,team.alice.x.y').groups).toEqual(['user.alice', 'team.alice.x.y']);
    expect(refusal('groups=user.bob')).toMatchObject({ status: 403, code: 'group-not-allowed' });
  });

  it('a user id with wildcard characters matches only itself', () => {
    const star = caller({ userId: 'a*' });
    expect(decide('groups=user.a*', star).groups).toEqual(['user.a*']);
    expect(refusal('groups=user.abc', star)).toMatchObject({ status: 403 });
  });

  it('`*` does not cross a dot; `**` does', () => {
    expect(refusal('groups=room.1.private')).toMatchObject({ status: 403, code: 'group-not-allowed' });
    expect(decide('groups=team.alice.a.b.c').groups).toEqual(['team.alice.a.b.c']);
  });

  it('grants groups named in the identity group claim', () => {
    expect(decide('groups=engineering', caller({ groups: ['engineering'] })).groups).toEqual(['engineering']);
  });

  it('403 for a group outside policy, naming it, and nothing is granted', () => {
    const error = refusal('groups=room.1,secret');
    expect(error).toMatchObject({ status: 403, code: 'group-not-allowed' });
    expect(error.detail).toContain('"secret"');
  });

  it('403 with no allow-list at all', () => {
    expect(refusal('groups=lobby', caller(), { allowedGroups: [] })).toMatchObject({ status: 403 });
  });

  it('400 too-many-groups past the limit', () => {
    const many = Array.from({ length: 33 }, (_, i) => `room.${i}`).join(',');
    expect(refusal(`groups=${many}`)).toMatchObject({ status: 400, code: 'too-many-groups' });
  });

  it('400 invalid-group for a name over 1024 characters', () => {
    expect(refusal(`groups=room.${'x'.repeat(1100)}`)).toMatchObject({ status: 400, code: 'invalid-group' });
  });

  it('cuts a long refused name short in the detail', () => {
    const error = refusal(`groups=${'z'.repeat(500)}`);
    expect(error.detail.length).toBeLessThan(200);
  });
});

describe('roles', () => {
  it('per-group roles for each granted group, and nothing hub-wide', () => {
    expect(decide('groups=lobby').roles).toEqual([
      'webpubsub.joinLeaveGroup.lobby',
      'webpubsub.sendToGroup.lobby',
    ]);
    expect(decide('').roles).toEqual([]);
  });

  it('only the configured per-group permissions', () => {
    expect(decide('groups=lobby', caller(), { groupPermissions: ['sendToGroup'] }).roles).toEqual([
      'webpubsub.sendToGroup.lobby',
    ]);
    expect(decide('groups=lobby', caller(), { groupPermissions: [] }).roles).toEqual([]);
  });

  it('configured roles, with {userId} put in raw for a group and escaped inside a pattern', () => {
    const roles = ['webpubsub.sendToGroup.user.{userId}', 'webpubsub.joinLeaveGroups.team.{userId}.*'];
    expect(decide('', caller({ userId: 'b?b' }), { roles }).roles).toEqual([
      'webpubsub.sendToGroup.user.b?b',
      'webpubsub.joinLeaveGroups.team.b\\?b.*',
    ]);
  });

  it('passes on Web PubSub roles from the identity, drops application roles and hub-wide ones', () => {
    const who = caller({
      roles: [
        'admin',
        'webpubsub.sendToGroups.news.*',
        'webpubsub.joinLeaveGroup',
        'webpubsub.sendToGroup',
        'webpubsub.sendToGroups.bad\\x',
      ],
    });
    expect(decide('', who).roles).toEqual(['webpubsub.sendToGroups.news.*']);
  });

  it('hub-wide roles from the identity only when configuration opts in', () => {
    const who = caller({ roles: ['webpubsub.joinLeaveGroup'] });
    expect(decide('', who, { allowHubWideRoles: true }).roles).toEqual(['webpubsub.joinLeaveGroup']);
  });

  it('each role once, configured first', () => {
    const who = caller({ roles: ['webpubsub.sendToGroup.lobby'] });
    expect(decide('groups=lobby', who, { roles: ['webpubsub.joinLeaveGroup.lobby'] }).roles).toEqual([
      'webpubsub.joinLeaveGroup.lobby',
      'webpubsub.sendToGroup.lobby',
    ]);
  });

  it('the grant carries the user id and the configured lifetime', () => {
    expect(decide('', caller({ userId: 'zoë' }), { tokenLifetimeMinutes: 15 })).toMatchObject({
      userId: 'zoë',
      lifetimeMinutes: 15,
    });
  });

  it('never reads a userId from the query', () => {
    expect(decide('userId=mallory').userId).toBe('alice');
  });
});

describe('group patterns and roles (src/protocol/roles), against the documented wildcard rules', () => {
  it.each<[string, string, boolean]>([
    ['room.*', 'room.1', true],
    ['room.*', 'room.', true],
    ['room.*', 'room.1.2', false],
    ['room.**', 'room.1.2', true],
    ['room.?', 'room.a', true],
    ['room.?', 'room.ab', false],
    ['room.?', 'room..', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a\\?', 'a?', true],
    ['a\\\\', 'a\\', true],
    ['Room.*', 'room.1', false],
    ['(x)+[y]$', '(x)+[y]$', true],
  ])('%s matches %j: %s', (pattern, group, expected) => {
    expect(compileGroupPattern(pattern)?.test(group)).toBe(expected);
  });

  it.each([[''], ['a\\b'], ['trailing\\'], ['*.*.*.*.*.*'], ['**.**.**']])(
    '%j is not a valid pattern',
    (pattern) => {
      expect(compileGroupPattern(pattern)).toBeUndefined();
    },
  );

  it('five stars are allowed', () => {
    expect(compileGroupPattern('*.*.*.*.*')).toBeDefined();
  });

  it('escapes what a pattern would read as wildcards', () => {
    expect(escapeGroupPattern('a*b?c\\d')).toBe('a\\*b\\?c\\\\d');
  });

  it.each([
    ['webpubsub.joinLeaveGroup', { kind: 'hub', permission: 'joinLeaveGroup' }],
    ['webpubsub.sendToGroup.room.1', { kind: 'group', permission: 'sendToGroup', group: 'room.1' }],
    ['webpubsub.sendToGroups.room.*', { kind: 'pattern', permission: 'sendToGroup', pattern: 'room.*' }],
    ['webpubsub.joinLeaveGroups.a\\b', undefined],
    ['webpubsub.sendToGroup.', undefined],
    ['webpubsub.sendtogroup.x', undefined],
    ['admin', undefined],
  ])('parseRole(%j)', (role, parsed) => {
    expect(parseRole(role)).toEqual(parsed);
  });
});
