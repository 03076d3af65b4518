import { startLocalStack, type LocalStack } from '../../dev/stack';
import { DEFAULT_ACCESS_KEY } from '../../emulator/config';
import { negotiate, RawChatClient, signIn } from '../e2e/support';
import { eventHeaders } from '../support/cloud-events';

/**
 * Secrets and logs (issue 9): the webhook, negotiate and push run through the local stack (emulator + local
 * Functions host) with every log line captured, on success and failure paths, with secrets this test knows:
 * the access key, a caller JWT, the function key and a client access token. None of them, nor their
 * base64, base64url or URL-encoded forms, may appear in any line; webhook lines carry the ce-id and the
 * connection id, push lines the request id.
 */
const FUNCTION_KEY = 'logs-test-function-key-4f1b2c9d8e7a';
const REQUEST_ID = 'logs-test-request-0001';
const FAILING_REQUEST_ID = 'logs-test-request-0002';

const lines: string[] = [];
let stack: LocalStack;
const clients: RawChatClient[] = [];
const secrets = new Map<string, string>();

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    emulatorPort: 0,
    entry: ['src/functions/*.ts'],
    functionKey: FUNCTION_KEY,
    log: (line) => lines.push(line),
  });
  secrets.set('access key', DEFAULT_ACCESS_KEY);
  secrets.set('function key', FUNCTION_KEY);
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

function api(path: string, key = FUNCTION_KEY): string {
  const separator = path.includes('?') ? '&' : '?';
  return `${stack.url}/api${path}${separator}code=${encodeURIComponent(key)}`;
}

test('exercise: sign in, negotiate, connect, push, and the failures of each', async () => {
  const jwt = await signIn(stack.url, 'alice');
  secrets.set('caller JWT', jwt);
  const negotiated = await negotiate(stack.url, jwt, ['lobby']);
  const clientToken = new URL(negotiated.url).searchParams.get('access_token') ?? '';
  expect(clientToken).not.toBe('');
  secrets.set('client access token', clientToken);

  // Success: a client connects (connect + connected through the webhook), a push reaches it.
  const client = await RawChatClient.connect('alice', negotiated.url);
  clients.push(client);
  const pushed = await fetch(api('/hubs/chat/users/alice/messages'), {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'x-ms-client-request-id': REQUEST_ID },
    body: 'hello alice',
  });
  expect(pushed.status).toBe(202);

  // Failures: a tampered caller JWT, a forged event, a wrong function key, a bad push, a client token reused
  // with a tampered signature.
  const tampered = `${jwt.slice(0, -4)}AAAA`;
  expect(
    (await fetch(`${stack.url}/api/negotiate`, { headers: { authorization: `Bearer ${tampered}` } })).status,
  ).toBe(401);
  expect(
    (await fetch(`${stack.url}/api/negotiate?groups=admin`, { headers: { authorization: `Bearer ${jwt}` } }))
      .status,
  ).toBe(403);
  const forged = await fetch(api('/webpubsub/events'), {
    method: 'POST',
    headers: eventHeaders('user.message', {
      'webhook-request-origin': new URL(stack.emulatorUrl).host,
      'ce-id': 'forged-event-7',
      'ce-signature': `sha256=${'0'.repeat(64)}`,
    }),
    body: 'hi',
  });
  expect(forged.status).toBe(401);
  expect((await fetch(api('/hubs/chat/messages', 'wrong-key'), { method: 'POST', body: 'x' })).status).toBe(
    401,
  );
  const badPush = await fetch(api('/hubs/chat/messages?ttl=-1'), {
    method: 'POST',
    headers: { 'content-type': 'text/plain', authorization: `Bearer ${jwt}` },
    body: 'x',
  });
  expect(badPush.status).toBe(400);
  const wsUrl = negotiated.url.replace(clientToken, `${clientToken.slice(0, -4)}AAAA`);
  await expect(RawChatClient.connect('alice', wsUrl)).rejects.toThrow(/401/);

  // The service gone: the push fails with a 5xx, logged with its request id.
  await stack.emulator?.close();
  const failed = await fetch(api('/hubs/chat/messages'), {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'x-ms-client-request-id': FAILING_REQUEST_ID },
    body: 'nobody hears this',
  });
  expect(failed.status).toBeGreaterThanOrEqual(500);
}, 30_000);

/** Every form a secret could take in a log line: itself, base64, base64url, URL-encoded, a JWT's signature. */
function formsOf(secret: string): string[] {
  const forms = [
    secret,
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
    encodeURIComponent(secret),
  ];
  const parts = secret.split('.');
  if (parts.length === 3 && parts[2] !== undefined && parts[2].length >= 16) forms.push(parts[2]);
  return forms;
}

test('no captured line holds a secret in any form', () => {
  expect([...secrets.keys()].sort()).toEqual(
    ['access key', 'caller JWT', 'client access token', 'function key'].sort(),
  );
  expect(lines.length).toBeGreaterThan(10);
  const leaks: string[] = [];
  for (const [name, secret] of secrets) {
    for (const form of formsOf(secret)) {
      for (const line of lines) if (line.includes(form)) leaks.push(`${name} in: ${line.slice(0, 200)}`);
    }
  }
  expect(leaks).toEqual([]);
});

test('webhook lines carry the ce-id and the connection id; push lines the request id', () => {
  const fieldsOf = (line: string): Record<string, unknown> =>
    JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
  const webhook = lines.filter((line) => line.startsWith('[webpubsubEvents]'));
  // connected, disconnected, the presence failure and the refused forgery at least.
  expect(webhook.length).toBeGreaterThanOrEqual(4);
  for (const line of webhook) {
    expect(fieldsOf(line)).toEqual(
      expect.objectContaining({ ceId: expect.any(String), connectionId: expect.any(String) }),
    );
  }
  expect(webhook.some((line) => fieldsOf(line).ceId === 'forged-event-7')).toBe(true);
  const push = lines.filter((line) => line.startsWith('[push'));
  expect(push.length).toBeGreaterThanOrEqual(1);
  for (const line of push) expect(fieldsOf(line)).toHaveProperty('clientRequestId');
  expect(push.some((line) => fieldsOf(line).clientRequestId === FAILING_REQUEST_ID)).toBe(true);
});
