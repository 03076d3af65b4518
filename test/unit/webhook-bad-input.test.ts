import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest } from '@azure/functions';
import { signatureAuthenticator } from '../../src/events/authentication';
import { createWebhook, type WebhookOptions } from '../../src/events/webhook';
import { fromIncomingMessage, writeCoreResponse } from '../../src/http/node-adapter';
import { toCoreRequest } from '../../src/functions/runtime/adapter';
import { createOriginPolicy } from '../../src/protocol/origins';
import vectors from '../fixtures/signature-vectors.json';
import {
  ACCESS_KEY,
  CONNECTION_ID,
  ORIGIN,
  SIGNATURE,
  bodyText,
  captureLog,
  connectBody,
  coreRequest,
  eventHeaders,
  header,
  type EventKind,
  type TestRequest,
} from '../support/cloud-events';

/**
 * Requests the webhook must refuse, each with the status and problem code it must answer, and the proof that
 * a refusal changes nothing: no hook runs, and a request that can be judged from its headers alone never
 * has its body read.
 */

const MAX_BODY = 4096;
const MAX_STATE = 256;
const PROBLEM = 'application/problem+json';
const TYPE_PREFIX = 'urn:webpubsub-functions:problem:';
const ALLOW = 'OPTIONS, POST';

// HMAC-SHA256 of the fixture connection id under a key we do not hold:
//   printf '%s' 0f9c97a2f0bf4706afe87a14e0797b11 | openssl dgst -sha256 -hmac test-access-key
const SAME_CONNECTION_OTHER_KEY = 'sha256=5fa527e76e90ae2751ebb4f79ee781ef0de33471309eb4eb0a5dee225bed5c94';
// vectors[0]: connection "connectionId" signed with "test-access-key" (a correct signature, wrong key).
const OTHER_KEY_VECTOR = vectors.vectors[0]!;
// vectors[2]: connection "conn1" signed with another key; "conn1" with our key is not in the header.
const OTHER_CONNECTION_VECTOR = vectors.vectors[2]!;

type Hooks = Required<NonNullable<WebhookOptions['hooks']>>;

function spies() {
  return {
    connect: jest.fn<ReturnType<Hooks['connect']>, Parameters<Hooks['connect']>>(),
    userEvent: jest.fn<ReturnType<Hooks['userEvent']>, Parameters<Hooks['userEvent']>>(),
    connected: jest.fn<ReturnType<Hooks['connected']>, Parameters<Hooks['connected']>>(),
    disconnected: jest.fn<ReturnType<Hooks['disconnected']>, Parameters<Hooks['disconnected']>>(),
  };
}

function webhookWith(hooks: ReturnType<typeof spies>) {
  return createWebhook({
    hubs: ['chat', 'Other'],
    origins: createOriginPolicy([ORIGIN]),
    authenticators: [signatureAuthenticator([ACCESS_KEY])],
    hooks,
    maxBodyBytes: MAX_BODY,
    maxStateBytes: MAX_STATE,
  });
}

const DEFAULT_BODY: Record<string, string> = {
  connect: JSON.stringify(connectBody()),
  connected: '{}',
  disconnected: '{"reason":"Normal"}',
};

/** A POST of `kind` as the service sends it, with header overrides (undefined deletes) and an optional body. */
function post(
  kind: EventKind,
  overrides: Record<string, string | undefined> = {},
  body?: string | Uint8Array,
): TestRequest {
  return { headers: eventHeaders(kind, overrides), body: body ?? DEFAULT_BODY[kind] ?? 'hello' };
}

const b64 = (text: string | Uint8Array): string => Buffer.from(text).toString('base64');
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const json = (value: unknown): string => JSON.stringify(value);

interface Row {
  name: string;
  request: TestRequest;
  status: number;
  code: string;
  /** What the detail must name, where it helps the caller find the fault. */
  detail?: RegExp;
  /** Rows that can only be judged from the body; all others must leave it unread. */
  readsBody?: true;
}

const missing = (name: string, kind: EventKind = 'connect'): Row => ({
  name: `missing ${name} (${kind})`,
  request: post(kind, { [name]: undefined }),
  status: 400,
  code: 'missing-header',
  detail: new RegExp(name, 'i'),
});

const blank = (name: string, value: string): Row => ({
  name: `blank ${name} (${JSON.stringify(value)})`,
  request: post('connect', { [name]: value }),
  status: 400,
  code: 'missing-header',
  detail: new RegExp(name, 'i'),
});

const invalidHeader = (name: string, value: string, kind: EventKind = 'connect'): Row => ({
  name: `${name}: ${JSON.stringify(value.length > 40 ? `${value.slice(0, 20)}...(${value.length})` : value)}`,
  request: post(kind, { [name]: value }),
  status: 400,
  code: 'invalid-header',
  detail: new RegExp(name, 'i'),
});

const unknownType = (ceType: string): Row => ({
  name: `ce-type ${JSON.stringify(ceType.length > 40 ? `${ceType.slice(0, 30)}...(${ceType.length})` : ceType)}`,
  request: post('connect', { 'ce-type': ceType }),
  status: 400,
  code: 'unknown-event-type',
  detail: /ce-type/,
});

const originRefused = (origin: string, kind: EventKind = 'connect'): Row => ({
  name: `origin not allowed: ${origin} (${kind})`,
  request: post(kind, { 'webhook-request-origin': origin }),
  status: 403,
  code: 'origin-not-allowed',
  detail: new RegExp(origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
});

const badSignature = (
  name: string,
  overrides: Record<string, string | undefined>,
  code = 'invalid-signature',
): Row => ({
  name: `signature ${name}`,
  request: post('connect', overrides),
  status: 401,
  code,
  detail: /ce-signature/,
});

const wrongMethod = (method: string): Row => ({
  name: `method ${method}`,
  request: { ...post('connect'), method },
  status: 405,
  code: 'method-not-allowed',
  detail: /OPTIONS, POST/,
});

const userContentType = (contentType: string | undefined, kind: EventKind = 'user.message'): Row => ({
  name: `user event with content-type ${JSON.stringify(contentType ?? null)}`,
  request: post(kind, { 'content-type': contentType }),
  status: 415,
  code: 'unsupported-media-type',
});

const systemContentType = (kind: EventKind, contentType: string): Row => ({
  name: `${kind} with content-type ${JSON.stringify(contentType)}`,
  request: post(kind, { 'content-type': contentType }),
  status: 415,
  code: 'unsupported-media-type',
  detail: /application\/json/,
});

const badState = (name: string, value: string, kind: EventKind = 'user.message'): Row => ({
  name: `connection state ${name} (${kind})`,
  request: post(kind, { 'ce-connectionstate': value }),
  status: 400,
  code: 'invalid-header',
  detail: /ce-connectionstate/i,
});

const badBody = (
  name: string,
  kind: EventKind,
  body: string | Uint8Array,
  code: string,
  detail?: RegExp,
  contentType?: string,
): Row => ({
  name: `${kind} body: ${name}`,
  request: post(kind, contentType === undefined ? {} : { 'content-type': contentType }, body),
  status: 400,
  code,
  readsBody: true,
  ...(detail ? { detail } : {}),
});

const badConnect = (name: string, body: Record<string, unknown> | string, detail: RegExp): Row =>
  badBody(name, 'connect', typeof body === 'string' ? body : json(body), 'invalid-body', detail);

const options = (requestOrigin: string | undefined, status: number, code: string): Row => ({
  name: `OPTIONS with WebHook-Request-Origin ${JSON.stringify(requestOrigin ?? null)}`,
  request: {
    method: 'OPTIONS',
    headers: {
      'ce-awpsversion': '1.0',
      ...(requestOrigin === undefined ? {} : { 'webhook-request-origin': requestOrigin }),
    },
  },
  status,
  code,
  detail: /WebHook-Request-Origin/i,
});

// A state header of n base64 characters (n a multiple of 4) that encodes a JSON object.
function stateOfLength(length: number): string {
  const jsonBytes = (length / 4) * 3;
  const value = b64(json({ k: 'x'.repeat(jsonBytes - '{"k":""}'.length) }));
  expect(value).toHaveLength(length);
  return value;
}

const rows: Row[] = [
  // Missing required headers. ce-awpsversion is tolerated when absent (see below), checked when present.
  missing('ce-specversion'),
  missing('webhook-request-origin'),
  missing('ce-type'),
  missing('ce-hub'),
  missing('ce-connectionid'),
  missing('ce-id'),
  missing('ce-specversion', 'user.message'),
  missing('ce-hub', 'disconnected'),
  missing('ce-connectionid', 'connected'),
  missing('ce-id', 'user.message'),

  // Blank values (Headers trims whitespace-only values to the empty string).
  blank('ce-specversion', ''),
  blank('webhook-request-origin', ''),
  blank('webhook-request-origin', '   '),
  blank('ce-type', ''),
  blank('ce-hub', ''),
  blank('ce-hub', ' \t '),
  blank('ce-connectionid', ''),
  blank('ce-id', ''),
  invalidHeader('ce-awpsversion', ''),

  // Versions.
  invalidHeader('ce-specversion', '0.3'),
  invalidHeader('ce-specversion', '1.1'),
  invalidHeader('ce-specversion', '1'),
  invalidHeader('ce-specversion', '2.0', 'user.message'),
  invalidHeader('ce-awpsversion', '2.0'),
  invalidHeader('ce-awpsversion', '1'),
  invalidHeader('ce-awpsversion', '0.9', 'disconnected'),

  // Event types.
  unknownType('azure.webpubsub.sys.foo'),
  unknownType('azure.webpubsub.sys.'),
  unknownType('azure.webpubsub.sys.disconnect'),
  unknownType('azure.webpubsub.gp.joined'),
  unknownType('AZURE.WEBPUBSUB.SYS.CONNECT'),
  unknownType('foo'),
  unknownType('azure.webpubsub.user'),
  unknownType('azure.webpubsub.user.'),
  unknownType('azure.webpubsub.user.my event'),
  unknownType('azure.webpubsub.user.tab\there'),
  unknownType('azure.webpubsub.user.bell\u0007'),
  unknownType('azure.webpubsub.user.del\u007f'),
  unknownType('azure.webpubsub.user.nbsp\u00a0x'),
  unknownType(`azure.webpubsub.user.${'e'.repeat(129)}`),

  // Hub names (syntax: a letter, then letters, digits and _`,.[] up to 128 characters).
  invalidHeader('ce-hub', '1chat'),
  invalidHeader('ce-hub', '_chat'),
  invalidHeader('ce-hub', 'a'.repeat(129)),
  invalidHeader('ce-hub', 'chat room'),
  invalidHeader('ce-hub', 'chat-room'),
  invalidHeader('ce-hub', 'chat/other'),
  invalidHeader('ce-hub', 'ch@t'),
  invalidHeader('ce-hub', 'chät'),
  invalidHeader('ce-connectionid', 'c'.repeat(1025)),
  invalidHeader('ce-id', '9'.repeat(1025)),

  // Hubs this webhook does not serve.
  {
    name: 'hub not served',
    request: post('connect', { 'ce-hub': 'lobby' }),
    status: 404,
    code: 'unknown-hub',
    detail: /lobby/,
  },
  {
    name: 'hub not served: valid name of the maximum length',
    request: post('user.message', { 'ce-hub': 'a'.repeat(128) }),
    status: 404,
    code: 'unknown-hub',
  },
  {
    name: 'hub not served: a prefix of a served hub',
    request: post('connected', { 'ce-hub': 'cha' }),
    status: 404,
    code: 'unknown-hub',
  },

  // Abuse protection on events.
  originRefused('evil.webpubsub.azure.com'),
  originRefused('myresource.webpubsub.azure.com.evil.example'),
  originRefused('myresource.webpubsub.azure.cn'),
  originRefused('evil.example, attacker.example', 'user.message'),
  originRefused('xmyresource.webpubsub.azure.com', 'disconnected'),

  // Signatures.
  badSignature('missing', { 'ce-signature': undefined }, 'missing-signature'),
  badSignature('blank', { 'ce-signature': '' }, 'missing-signature'),
  badSignature('of zeros', { 'ce-signature': `sha256=${'0'.repeat(64)}` }),
  badSignature('truncated by one hex digit', { 'ce-signature': SIGNATURE.slice(0, -1) }),
  badSignature('without prefix', { 'ce-signature': SIGNATURE.slice('sha256='.length) }),
  badSignature('with another algorithm name', { 'ce-signature': SIGNATURE.replace('sha256=', 'sha1=') }),
  badSignature('of the same connection under another key', { 'ce-signature': SAME_CONNECTION_OTHER_KEY }),
  badSignature('of another connection', { 'ce-connectionid': OTHER_CONNECTION_VECTOR.connectionId }),
  badSignature('of the upper-cased connection id', { 'ce-connectionid': CONNECTION_ID.toUpperCase() }),
  badSignature('valid for another key', {
    'ce-connectionid': OTHER_KEY_VECTOR.connectionId,
    'ce-signature': `sha256=${OTHER_KEY_VECTOR.hex}`,
  }),
  badSignature('that is the access key itself', { 'ce-signature': `sha256=${ACCESS_KEY}` }),
  badSignature('past the eighth entry', {
    'ce-signature': [...Array.from({ length: 8 }, () => `sha256=${'1'.repeat(64)}`), SIGNATURE].join(','),
  }),

  // Methods.
  wrongMethod('PUT'),
  wrongMethod('GET'),
  wrongMethod('DELETE'),
  wrongMethod('PATCH'),
  wrongMethod('HEAD'),

  // User-event content types.
  userContentType(undefined),
  userContentType('text/html'),
  userContentType('application/xml'),
  userContentType('multipart/form-data; boundary=xyz'),
  userContentType('application/x-www-form-urlencoded'),
  userContentType('text/plain; charset=latin1'),
  userContentType('text/plain; charset=iso-8859-1', 'user.chat'),
  userContentType('application/json; charset=utf-16'),
  userContentType('text/plain; charset='),

  // System events with a content type that is not JSON.
  systemContentType('connect', 'text/plain'),
  systemContentType('connect', 'multipart/form-data; boundary=xyz'),
  systemContentType('connected', 'application/xml'),
  systemContentType('disconnected', 'text/html; charset=utf-8'),
  systemContentType('disconnected', 'application/octet-stream'),

  // Connection state (decoded before any body byte is read).
  badState('that is not base64', '!!!notbase64!!!'),
  badState('with a length that is not a multiple of 4', 'abc'),
  badState('in base64url', '-_-_'),
  badState('of non-JSON', b64('hello world')),
  badState('of a JSON array', b64('[1,2,3]')),
  badState('of a JSON string', b64('"state"')),
  badState('of JSON null', b64('null')),
  badState('of invalid UTF-8', b64(bytes(0x7b, 0xff, 0xfe, 0x7d))),
  badState('over maxStateBytes', stateOfLength(MAX_STATE + 4), 'connect'),
  badState('of a JSON array', b64('[]'), 'disconnected'),

  // OPTIONS (abuse protection handshake).
  options(undefined, 400, 'missing-header'),
  options('', 400, 'missing-header'),
  options('evil.example.com', 403, 'origin-not-allowed'),
  options('evil.example.com, other.example.com', 403, 'origin-not-allowed'),

  // Bodies: JSON.
  badBody('invalid JSON', 'connect', '{"claims":', 'invalid-json', /connect event body/),
  badBody('empty', 'connect', '', 'invalid-json', /connect event body/),
  badConnect('a JSON array', '[]', /JSON object/),
  badConnect('a JSON string', '"connect"', /JSON object/),
  badConnect('JSON null', 'null', /JSON object/),
  badConnect('a JSON number', '42', /JSON object/),
  badConnect('claims not an object', connectBody({ claims: 'sub=user1' }), /"claims"/),
  badConnect('claims an array', connectBody({ claims: [['sub', 'user1']] }), /"claims"/),
  badConnect(
    'a claim value that is a number',
    connectBody({ claims: { sub: ['user1'], exp: 1700000000 } }),
    /"claims\.exp"/,
  ),
  badConnect('a claim list with a number', connectBody({ claims: { role: ['a', 2] } }), /"claims\.role"/),
  badConnect(
    'query values that are objects',
    connectBody({ query: { room: { name: 'lobby' } } }),
    /"query\.room"/,
  ),
  badConnect('headers not an object', connectBody({ headers: 'user-agent: test' }), /"headers"/),
  badConnect(
    'subprotocols not an array',
    connectBody({ subprotocols: 'json.webpubsub.azure.v1' }),
    /"subprotocols"/,
  ),
  badConnect(
    'subprotocols with a number',
    connectBody({ subprotocols: ['json.webpubsub.azure.v1', 1] }),
    /"subprotocols"/,
  ),
  badConnect(
    'clientCertificates an object',
    connectBody({ clientCertificates: { thumbprint: 'ABC' } }),
    /"clientCertificates"/,
  ),
  badConnect(
    'clientCertificates of strings',
    connectBody({ clientCertificates: ['ABC'] }),
    /clientCertificates\[0\]\.thumbprint/,
  ),
  badConnect(
    'a certificate without thumbprint',
    connectBody({ clientCertificates: [{ content: 'PEM' }] }),
    /clientCertificates\[0\]\.thumbprint/,
  ),
  badConnect(
    'a certificate with a numeric content',
    connectBody({ clientCertificates: [{ thumbprint: 'A', content: 5 }] }),
    /clientCertificates\[0\]\.content/,
  ),
  badConnect('mqtt not an object', connectBody({ mqtt: 'v5' }), /"mqtt"/),
  badConnect(
    'mqtt protocolVersion 3',
    connectBody({ mqtt: { protocolVersion: 3 } }),
    /mqtt\.protocolVersion/,
  ),
  badConnect(
    'mqtt protocolVersion "5"',
    connectBody({ mqtt: { protocolVersion: '5' } }),
    /mqtt\.protocolVersion/,
  ),
  badConnect(
    'mqtt username a number',
    connectBody({ mqtt: { protocolVersion: 4, username: 7 } }),
    /mqtt\.username/,
  ),
  badConnect(
    'mqtt userProperties not an array',
    connectBody({ mqtt: { protocolVersion: 5, userProperties: { a: 'b' } } }),
    /mqtt\.userProperties/,
  ),
  badConnect(
    'an mqtt user property without value',
    connectBody({ mqtt: { protocolVersion: 5, userProperties: [{ name: 'a' }] } }),
    /mqtt\.userProperties\[0\]/,
  ),
  badBody(
    'invalid UTF-8',
    'connect',
    bytes(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d),
    'invalid-encoding',
    /UTF-8/,
  ),

  // Bodies: user events.
  badBody('invalid UTF-8 in text', 'user.message', bytes(0x68, 0xc3, 0x28), 'invalid-encoding', /UTF-8/),
  badBody('overlong UTF-8 in text', 'user.message', bytes(0xc0, 0xaf), 'invalid-encoding', /UTF-8/),
  badBody(
    'UTF-8-encoded surrogate in text',
    'user.message',
    bytes(0xed, 0xa0, 0x80),
    'invalid-encoding',
    /UTF-8/,
  ),
  badBody(
    'invalid UTF-8 in json',
    'user.data',
    bytes(0x22, 0xff, 0x22),
    'invalid-encoding',
    /UTF-8/,
    'application/json',
  ),
  badBody(
    'invalid JSON',
    'user.data',
    '{"a":',
    'invalid-json',
    /user event body/,
    'application/json; charset=utf-8',
  ),
  badBody('empty JSON', 'user.data', '', 'invalid-json', /user event body/, 'application/json'),

  // Bodies: connected / disconnected.
  badBody('invalid JSON', 'connected', '{', 'invalid-json', /connected event body/),
  badBody('a JSON array', 'connected', '[]', 'invalid-body', /JSON object/),
  badBody('empty', 'disconnected', '', 'invalid-json', /disconnected event body/),
  badBody('a non-string reason', 'disconnected', json({ reason: 1000 }), 'invalid-body', /"reason"/),
  badBody('an object reason', 'disconnected', json({ reason: { code: 1000 } }), 'invalid-body', /"reason"/),
  badBody('a JSON string', 'disconnected', '"Normal"', 'invalid-body', /JSON object/),

  // Bodies over the limit (the in-memory request refuses by actual size; content-length is below).
  {
    name: 'connect body over the limit',
    request: post('connect', {}, json(connectBody({ padding: 'x'.repeat(MAX_BODY) }))),
    status: 413,
    code: 'payload-too-large',
    detail: new RegExp(`${MAX_BODY}`),
    readsBody: true,
  },
  {
    name: 'binary user event one byte over the limit',
    request: post(
      'user.message',
      { 'content-type': 'application/octet-stream' },
      new Uint8Array(MAX_BODY + 1),
    ),
    status: 413,
    code: 'payload-too-large',
    readsBody: true,
  },
  {
    name: 'disconnected body over the limit',
    request: post('disconnected', {}, json({ reason: 'r'.repeat(MAX_BODY) })),
    status: 413,
    code: 'payload-too-large',
    readsBody: true,
  },
];

describe('createWebhook refuses bad input and changes nothing', () => {
  const hooks = spies();
  const webhook = webhookWith(hooks);

  it('has a table of at least 70 distinct rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(70);
    expect(new Set(rows.map((row) => row.name)).size).toBe(rows.length);
  });

  const calls = (): number => Object.values(hooks).reduce((sum, spy) => sum + spy.mock.calls.length, 0);

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const request = coreRequest(row.request);
    const log = captureLog();
    const before = calls();
    const response = await webhook(request, log);
    // This row called no hook (counted, so one faulty row does not fail every later one).
    expect(calls() - before).toBe(0);

    expect(response.status).toBe(row.status);
    expect(header(response, 'content-type')).toBe(PROBLEM);
    const problem = JSON.parse(bodyText(response)) as Record<string, unknown>;
    expect(problem).toEqual({
      type: TYPE_PREFIX + row.code,
      title: expect.any(String),
      status: row.status,
      detail: expect.any(String),
    });
    if (row.detail) expect(problem.detail).toMatch(row.detail);
    if (row.status === 405) expect(header(response, 'allow')).toBe(ALLOW);

    // Nothing happened: no state set, no origin granted, nothing logged as our fault.
    expect(header(response, 'ce-connectionstate')).toBeUndefined();
    expect(header(response, 'webhook-allowed-origin')).toBeUndefined();
    expect(log.lines.filter((line) => line.level === 'error')).toEqual([]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ code: row.code }) }),
    );
    expect(request.bodyRead).toBe(row.readsBody === true);
  });

  it('called no hook at all over the whole table', () => {
    for (const spy of Object.values(hooks)) expect(spy).not.toHaveBeenCalled();
  });
});

describe('controls: the same webhook accepts the good requests the rows were made from', () => {
  const hooks = spies();
  const webhook = webhookWith(hooks);

  beforeEach(() => {
    for (const spy of Object.values(hooks)) spy.mockClear();
  });

  it.each([
    ['connect', post('connect'), 'connect'],
    ['connect without content-type', post('connect', { 'content-type': undefined }), 'connect'],
    ['connect to the other hub, in another case', post('connect', { 'ce-hub': 'OTHER' }), 'connect'],
    [
      'connect with a signature list that holds ours',
      post('connect', { 'ce-signature': `${SAME_CONNECTION_OTHER_KEY},${SIGNATURE}` }),
      'connect',
    ],
    [
      'connect without ce-awpsversion (the documentation examples omit it)',
      post('connect', { 'ce-awpsversion': undefined }),
      'connect',
    ],
    [
      'connect with a state of exactly maxStateBytes',
      post('connect', { 'ce-connectionstate': stateOfLength(MAX_STATE) }),
      'connect',
    ],
    [
      'connect with an allowed origin among others',
      post('connect', { 'webhook-request-origin': `evil.example, ${ORIGIN.toUpperCase()}` }),
      'connect',
    ],
    ['text user event', post('user.message'), 'userEvent'],
    ['text user event without charset', post('user.message', { 'content-type': 'text/plain' }), 'userEvent'],
    [
      'text user event with a quoted UTF-8 charset',
      post('user.message', { 'content-type': 'text/plain; charset="UTF-8"' }),
      'userEvent',
    ],
    ['user event with an event name of 128 characters', post(`user.${'e'.repeat(128)}`), 'userEvent'],
    ['json user event', post('user.data', { 'content-type': 'application/json' }, '{"a":1}'), 'userEvent'],
    [
      'binary user event of exactly maxBodyBytes',
      post('user.message', { 'content-type': 'application/octet-stream' }, new Uint8Array(MAX_BODY)),
      'userEvent',
    ],
    ['connected', post('connected'), 'connected'],
    ['disconnected', post('disconnected'), 'disconnected'],
    ['disconnected with a null reason', post('disconnected', {}, '{"reason":null}'), 'disconnected'],
  ] as const)('%s reaches its hook', async (_name, request, hook) => {
    const response = await webhook(coreRequest(request), captureLog());
    expect(response.status).toBe(204);
    expect(hooks[hook]).toHaveBeenCalledTimes(1);
  });

  it('answers OPTIONS from the allowed origin', async () => {
    const response = await webhook(
      coreRequest({ method: 'OPTIONS', headers: { 'webhook-request-origin': ORIGIN } }),
      captureLog(),
    );
    expect(response.status).toBe(200);
    expect(header(response, 'webhook-allowed-origin')).toBe(ORIGIN);
  });
});

describe('413 from the declared content-length, before the body arrives', () => {
  const hooks = spies();
  const webhook = webhookWith(hooks);

  afterEach(() => {
    for (const spy of Object.values(hooks)) expect(spy).not.toHaveBeenCalled();
  });

  async function withServer<T>(run: (port: number) => Promise<T>): Promise<T> {
    const server = createServer((req, res) => {
      void webhook(fromIncomingMessage(req, 'http://127.0.0.1'), captureLog()).then((response) =>
        writeCoreResponse(res, response),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      return await run((server.address() as AddressInfo).port);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  async function readResponse(
    response: IncomingMessage,
  ): Promise<{ status: number; type: string; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    return {
      status: response.statusCode ?? 0,
      type: response.headers['content-type'] ?? '',
      body: Buffer.concat(chunks).toString('utf8'),
    };
  }

  it('node adapter: refuses a declared length over the limit without waiting for the body', async () => {
    await withServer(async (port) => {
      const declared = MAX_BODY + 1;
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/webpubsub/events',
        headers: { ...eventHeaders('connect'), 'content-length': String(declared) },
      });
      req.on('error', () => {});
      // Only the first bytes are ever sent: an answer proves the server did not wait for the rest.
      req.write('{"claims":');
      const [response] = (await once(req, 'response')) as [IncomingMessage];
      const result = await readResponse(response);
      req.destroy();
      expect(result.status).toBe(413);
      expect(result.type).toBe(PROBLEM);
      expect(JSON.parse(result.body)).toMatchObject({ type: `${TYPE_PREFIX}payload-too-large`, status: 413 });
    });
  });

  it('node adapter: refuses a chunked body once it grows over the limit', async () => {
    await withServer(async (port) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/webpubsub/events',
        headers: { ...eventHeaders('user.message', { 'content-type': 'application/octet-stream' }) },
      });
      req.on('error', () => {});
      req.end(Buffer.alloc(MAX_BODY + 1));
      expect(req.getHeader('content-length')).toBeUndefined();
      const [response] = (await once(req, 'response')) as [IncomingMessage];
      const result = await readResponse(response);
      expect(result.status).toBe(413);
      expect(JSON.parse(result.body)).toMatchObject({ type: `${TYPE_PREFIX}payload-too-large` });
    });
  });

  it('Functions adapter: refuses a declared length over the limit and leaves the body unread', async () => {
    const request = new HttpRequest({
      method: 'POST',
      url: 'https://app.example/api/webpubsub/events?code=k',
      headers: { ...eventHeaders('connect'), 'content-length': String(MAX_BODY + 1) },
      body: { string: DEFAULT_BODY.connect! },
    });
    const response = await webhook(toCoreRequest(request), captureLog());
    expect(response.status).toBe(413);
    expect(JSON.parse(bodyText(response))).toMatchObject({ type: `${TYPE_PREFIX}payload-too-large` });
    expect(request.bodyUsed).toBe(false);
  });
});
