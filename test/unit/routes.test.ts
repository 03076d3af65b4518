import { compileRoute, matchRoute } from '../../dev/host/routes';

/** Matches `path` (without the route prefix) against `template`. */
function match(template: string, path: string): Record<string, string> | undefined {
  return matchRoute(compileRoute(template), path);
}

/** Which of `templates` the host would pick for `path`: the highest precedence among those that match. */
function winner(templates: string[], path: string): string | undefined {
  const routes = templates.map(compileRoute).sort((a, b) => b.precedence - a.precedence);
  return routes.find((route) => matchRoute(route, path) !== undefined)?.template;
}

describe('route templates: literal segments', () => {
  it('match without regard to case, in either the template or the path', () => {
    expect(match('Hubs/Chat', 'hubs/chat')).toEqual({});
    expect(match('hubs/chat', 'HUBS/ChAt')).toEqual({});
  });

  it('must match every segment, no more and no fewer', () => {
    expect(match('hubs/chat', 'hubs/chat2')).toBeUndefined();
    expect(match('hubs/chat', 'hubs')).toBeUndefined();
    expect(match('hubs/chat', 'hubs/chat/extra')).toBeUndefined();
    expect(match('hubs/chat', 'chat/hubs')).toBeUndefined();
  });

  it('ignore leading and trailing slashes on both sides', () => {
    expect(match('/health/', 'health')).toEqual({});
    expect(match('health', '/health/')).toEqual({});
  });

  it('do not let an empty segment stand in for a literal', () => {
    expect(match('a/b', 'a//b')).toBeUndefined();
  });

  it('an empty template matches only the empty path', () => {
    expect(match('', '')).toEqual({});
    expect(match('', 'x')).toBeUndefined();
  });

  it('compare after percent-decoding', () => {
    expect(match('hubs', 'hub%73')).toEqual({});
  });
});

describe('route templates: parameters', () => {
  it('{name} takes exactly one segment and keeps its case', () => {
    expect(match('hubs/{hub}/messages', 'hubs/Chat_Hub/messages')).toEqual({ hub: 'Chat_Hub' });
    expect(match('hubs/{hub}/messages', 'hubs/a/b/messages')).toBeUndefined();
    expect(match('hubs/{hub}/messages', 'hubs/messages')).toBeUndefined();
  });

  it('{name} does not match an empty segment (ASP.NET routing gives it no value)', () => {
    expect(match('hubs/{hub}/messages', 'hubs//messages')).toBeUndefined();
  });

  it('several parameters each get their own segment', () => {
    expect(match('hubs/{hub}/groups/{group}/users/{userId}', 'hubs/chat/groups/room1/users/u1')).toEqual({
      hub: 'chat',
      group: 'room1',
      userId: 'u1',
    });
  });

  it('{name?} may be left out when it is last', () => {
    expect(match('items/{id?}', 'items')).toEqual({});
    expect(match('items/{id?}', 'items/')).toEqual({});
    expect(match('items/{id?}', 'items/7')).toEqual({ id: '7' });
    expect(match('items/{id?}', 'items/7/8')).toBeUndefined();
  });

  it('{name:int} takes only whole numbers', () => {
    expect(match('items/{id:int}', 'items/42')).toEqual({ id: '42' });
    expect(match('items/{id:int}', 'items/-7')).toEqual({ id: '-7' });
    for (const bad of ['abc', '4.2', '42a', '0x1F', '']) {
      expect(match('items/{id:int}', `items/${bad}`)).toBeUndefined();
    }
  });

  it('{name:guid} takes only a GUID', () => {
    const guid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    expect(match('users/{id:guid}', `users/${guid}`)).toEqual({ id: guid });
    expect(match('users/{id:guid}', `users/${guid.toUpperCase()}`)).toEqual({ id: guid.toUpperCase() });
    for (const bad of ['3f2504e0', `${guid}0`, 'zf2504e0-4f89-11d3-9a0c-0305e82c3301', 'not-a-guid']) {
      expect(match('users/{id:guid}', `users/${bad}`)).toBeUndefined();
    }
  });

  it('a constraint and an optional marker combine', () => {
    expect(match('pages/{n:int?}', 'pages')).toEqual({});
    expect(match('pages/{n:int?}', 'pages/3')).toEqual({ n: '3' });
    expect(match('pages/{n:int?}', 'pages/three')).toBeUndefined();
  });

  it('{*rest} takes the rest of the path, slashes included, or nothing', () => {
    expect(match('files/{*path}', 'files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(match('files/{*path}', 'files/one')).toEqual({ path: 'one' });
    expect(match('files/{*path}', 'files')).toEqual({ path: '' });
    expect(match('files/{*path}', 'other/a')).toBeUndefined();
  });
});

describe('route templates: percent-decoding', () => {
  it('decodes each parameter after matching, so an encoded slash stays inside its parameter', () => {
    expect(match('hubs/{hub}/users/{userId}', 'hubs/chat/users/a%2Fb')).toEqual({
      hub: 'chat',
      userId: 'a/b',
    });
    expect(match('hubs/{hub}/users/{userId}', 'hubs/chat/users/a%2Fb/extra')).toBeUndefined();
  });

  it('decodes UTF-8 sequences, spaces and an encoded percent sign exactly once', () => {
    expect(match('users/{id}', 'users/caf%C3%A9%20%E2%98%83')).toEqual({ id: 'café ☃' });
    expect(match('users/{id}', 'users/100%2525')).toEqual({ id: '100%25' });
  });

  it('decodes catch-all segments one by one', () => {
    expect(match('files/{*path}', 'files/dir%20one/f%C3%A9.txt')).toEqual({ path: 'dir one/fé.txt' });
  });

  it.each([
    ['a truncated escape', 'users/%E0%A4%A'],
    ['a lone percent sign', 'users/100%'],
    ['a non-hex escape', 'users/%zz'],
    ['an invalid UTF-8 sequence', 'users/%C3%28'],
  ])('does not match %s', (_name, path) => {
    expect(match('users/{id}', path)).toBeUndefined();
  });

  it('does not match a bad encoding in a literal or catch-all segment either', () => {
    expect(match('users/{id}', 'us%zzers/1')).toBeUndefined();
    expect(match('files/{*path}', 'files/ok/%E0%A4%A')).toBeUndefined();
  });
});

describe('route templates: precedence', () => {
  it('a literal beats a parameter in the same place, whatever the registration order', () => {
    expect(winner(['things/{name}', 'things/special'], 'things/special')).toBe('things/special');
    expect(winner(['things/special', 'things/{name}'], 'things/special')).toBe('things/special');
    expect(winner(['things/{name}', 'things/special'], 'things/other')).toBe('things/{name}');
  });

  it('the first differing segment decides, even when the templates differ in length', () => {
    // items/new is literal where the other has a parameter: it wins although it is shorter.
    expect(winner(['items/{id}/{tab?}', 'items/new'], 'items/new')).toBe('items/new');
    expect(winner(['x/{*rest}', '{p}/y/z'], 'x/y/z')).toBe('x/{*rest}');
  });

  it('a constrained parameter beats an unconstrained one', () => {
    expect(winner(['items/{name}', 'items/{id:int}'], 'items/5')).toBe('items/{id:int}');
    expect(winner(['items/{name}', 'items/{id:int}'], 'items/five')).toBe('items/{name}');
  });

  it('a parameter beats a catch-all', () => {
    expect(winner(['files/{*path}', 'files/{name}'], 'files/a')).toBe('files/{name}');
    expect(winner(['files/{*path}', 'files/{name}'], 'files/a/b')).toBe('files/{*path}');
  });

  it('the pinned push routes each resolve to their own template', () => {
    const pinned = [
      'hubs/{hub}/messages',
      'hubs/{hub}/users/{userId}/messages',
      'hubs/{hub}/groups/{group}/messages',
      'hubs/{hub}/connections/{connectionId}/messages',
      'hubs/{hub}/groups/{group}/users/{userId}',
      'hubs/{hub}/groups/{group}/connections/{connectionId}',
      'hubs/{hub}/connections/{connectionId}',
      'hubs/{hub}/users/{userId}/connections',
      'hubs/{hub}/groups/{group}/connections',
    ];
    const example: Record<string, string> = { hub: 'chat', userId: 'u1', group: 'g1', connectionId: 'c1' };
    for (const template of pinned) {
      const path = template.replace(/\{(\w+)\}/g, (_all, name: string) => example[name]!);
      expect(winner(pinned, path)).toBe(template);
    }
    // A group called "messages" is a parameter value, not the literal of another route.
    expect(winner(pinned, 'hubs/chat/groups/messages/connections')).toBe(
      'hubs/{hub}/groups/{group}/connections',
    );
  });
});

describe('route templates: compile errors', () => {
  it.each([
    ['an optional parameter that is not last', '{a?}/b', /only the last parameter may be optional/],
    ['a catch-all that is not last', 'files/{*path}/meta', /catch-all must come last/],
    ['an unclosed brace', 'items/{id', /Unsupported route segment/],
    ['a stray closing brace', 'items/id}', /Unsupported route segment/],
    ['text around a parameter', 'items/x{id}', /Unsupported route segment/],
    ['an empty parameter name', 'items/{}', /Unsupported route segment/],
    ['a parameter name starting with a digit', 'items/{1d}', /Unsupported route segment/],
  ])('refuses %s', (_name, template, message) => {
    expect(() => compileRoute(template)).toThrow(message);
  });

  it('names the template in the error', () => {
    expect(() => compileRoute('{a?}/b')).toThrow('Route "{a?}/b"');
  });
});
