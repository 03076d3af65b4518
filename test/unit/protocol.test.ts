import {
  ConnectionState,
  decodeConnectionState,
  encodeConnectionState,
} from '../../src/protocol/connection-state';
import { classifyEventType, connectResponseBody, dataTypeOfContentType } from '../../src/protocol/events';
import { decodeUtf8HeaderValue } from '../../src/protocol/headers';
import { isValidGroupName, isValidHubName } from '../../src/protocol/names';
import { createOriginPolicy, normalizeOriginHost } from '../../src/protocol/origins';

describe('event types come from ce-type alone', () => {
  it.each([
    ['azure.webpubsub.sys.connect', 'connect', 'connect'],
    ['azure.webpubsub.sys.connected', 'connected', 'connected'],
    ['azure.webpubsub.sys.disconnected', 'disconnected', 'disconnected'],
    ['azure.webpubsub.user.message', 'user', 'message'],
    ['azure.webpubsub.user.chat.send', 'user', 'chat.send'],
  ])('%s is %s (%s)', (type, kind, eventName) => {
    expect(classifyEventType(type)).toEqual({ kind, eventName });
  });

  it.each([
    'azure.webpubsub.sys.CONNECT',
    'azure.webpubsub.gp.joined',
    'azure.webpubsub.user.',
    'connect',
    '',
  ])('%j is not an event we handle', (type) => {
    expect(classifyEventType(type)).toBeUndefined();
  });
});

describe('connection state codec', () => {
  it('decodes the documentation example eyJrZXkiOiJhIn0=', () => {
    expect(decodeConnectionState('eyJrZXkiOiJhIn0=', 4096)).toEqual({ key: 'a' });
  });

  it('reads an absent or empty header as no state', () => {
    expect(decodeConnectionState(null, 4096)).toEqual({});
    expect(decodeConnectionState('', 4096)).toEqual({});
  });

  it('encodes as base64 of the JSON text (what @azure/web-pubsub-express reads)', () => {
    expect(encodeConnectionState({ key: 'a' })).toBe('eyJrZXkiOiJhIn0=');
  });

  it('tracks changes: reading changes nothing, set/delete/clear do, deleting a missing key does not', () => {
    const state = new ConnectionState({ a: 1 });
    expect(state.get('a')).toBe(1);
    expect(state.has('b')).toBe(false);
    expect(state.changed).toBe(false);
    state.delete('missing');
    expect(state.changed).toBe(false);
    state.set('b', { nested: [1, 'x'] });
    expect(state.changed).toBe(true);
    state.delete('a');
    expect(state.toJSON()).toEqual({ b: { nested: [1, 'x'] } });
    state.clear();
    expect(state.toJSON()).toEqual({});
  });

  it('does not let a key named like an Object.prototype member leak through get()', () => {
    const state = new ConnectionState({});
    expect(state.get('constructor')).toBeUndefined();
    expect(state.get('__proto__')).toBeUndefined();
  });

  it('never mutates the object a reader was given earlier', () => {
    const state = new ConnectionState({ a: 1 });
    const before = state.toJSON();
    state.set('a', 2);
    expect(before).toEqual({ a: 1 });
  });
});

describe('user event content types', () => {
  it.each([
    ['text/plain', 'text'],
    ['text/plain; charset=utf-8', 'text'],
    ['TEXT/PLAIN; Charset="UTF-8"', 'text'],
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['application/octet-stream', 'binary'],
    ['application/octet-stream; charset=binary', 'binary'],
  ])('%s is %s', (contentType, dataType) => {
    expect(dataTypeOfContentType(contentType)).toBe(dataType);
  });

  it.each([null, '', 'text/html', 'application/x-protobuf', 'text/plain; charset=iso-8859-1'])(
    '%j is refused with 415',
    (contentType) => {
      expect(() => dataTypeOfContentType(contentType)).toThrow(expect.objectContaining({ status: 415 }));
    },
  );
});

describe('connect responses', () => {
  const offered = ['json.webpubsub.azure.v1', 'custom'];

  it('puts only the fields the hook decided on the wire', () => {
    expect(JSON.parse(connectResponseBody({ userId: 'u' }, offered))).toEqual({ userId: 'u' });
    expect(
      JSON.parse(connectResponseBody({ groups: ['a'], roles: ['r'], subprotocol: 'custom' }, offered)),
    ).toEqual({
      groups: ['a'],
      roles: ['r'],
      subprotocol: 'custom',
    });
  });

  it.each([
    [{ subprotocol: '' }, /omitted rather than empty/],
    [{ subprotocol: 'json.reliable.webpubsub.azure.v1' }, /not offered/],
    [{ userId: '' }, /userId/],
    [{ groups: ['  '] }, /group/],
    [{ groups: ['x'.repeat(1025)] }, /group/],
    [{ roles: [''] }, /role/],
  ])('refuses %j', (result, message) => {
    expect(() => connectResponseBody(result, offered)).toThrow(message);
  });
});

describe('names', () => {
  it.each(['chat', 'Chat_Hub', 'a', 'h`,.[]', 'a'.repeat(128)])('%s is a valid hub', (hub) => {
    expect(isValidHubName(hub)).toBe(true);
  });
  it.each(['', '1chat', '_chat', 'chat-room', 'chat room', 'a'.repeat(129), 'ünicode'])(
    '%j is not a valid hub',
    (hub) => {
      expect(isValidHubName(hub)).toBe(false);
    },
  );
  it('groups are 1-1024 characters and not blank', () => {
    expect(isValidGroupName('g')).toBe(true);
    expect(isValidGroupName('x'.repeat(1024))).toBe(true);
    expect(isValidGroupName('x'.repeat(1025))).toBe(false);
    expect(isValidGroupName('')).toBe(false);
    expect(isValidGroupName(' \t')).toBe(false);
  });
  // The REST spec's pattern `^(?!\s+$).+$`: its `.` matches no line terminator.
  it.each(['a\nb', 'a\r', '\u2028x', 'x\u2029'])('%j is not a valid group', (group) => {
    expect(isValidGroupName(group)).toBe(false);
  });
  it('a connect response naming a group with a line break is refused', () => {
    expect(() => connectResponseBody({ groups: ['room\nadmin'] }, [])).toThrow(/group/);
  });
});

describe('webhook origins', () => {
  it('compares hosts without scheme, port, trailing dot or case', () => {
    expect(normalizeOriginHost('https://MyRes.WebPubSub.Azure.com:443/')).toBe('myres.webpubsub.azure.com');
    expect(normalizeOriginHost('localhost:8080')).toBe('localhost');
    expect(normalizeOriginHost('[::1]:8080')).toBe('[::1]');
    expect(normalizeOriginHost('example.com.')).toBe('example.com');
  });

  it('matches the first allowed entry of a comma list and echoes it as presented', () => {
    const policy = createOriginPolicy(['https://myres.webpubsub.azure.com']);
    expect(policy.match('other.example, MyRes.webpubsub.azure.com')).toBe('MyRes.webpubsub.azure.com');
    expect(policy.match('other.example')).toBeUndefined();
    expect(policy.match('myres.webpubsub.azure.com.evil.example')).toBeUndefined();
  });

  it('allows any origin only when told so with *', () => {
    expect(createOriginPolicy(['*']).match('anything.example')).toBe('anything.example');
    expect(createOriginPolicy([]).match('anything.example')).toBeUndefined();
  });
});

describe('UTF-8 header values', () => {
  it('re-decodes a UTF-8 user id that arrived as latin1 bytes', () => {
    const mojibake = Buffer.from('用户-ü', 'utf8').toString('latin1');
    expect(decodeUtf8HeaderValue(mojibake)).toBe('用户-ü');
  });

  it('leaves ASCII, real latin1 and already-decoded text alone', () => {
    expect(decodeUtf8HeaderValue('user1')).toBe('user1');
    expect(decodeUtf8HeaderValue('caf\u00e9')).toBe('caf\u00e9'); // a lone 0xE9 byte is not UTF-8
    expect(decodeUtf8HeaderValue('用户')).toBe('用户');
  });
});
