import { signatureAuthenticator, functionKeyAuthenticator } from '../../src/events/authentication';
import { createWebhook } from '../../src/events/webhook';
import type { CoreResponse } from '../../src/http/types';
import { createJwtVerifier } from '../../src/identity/jwt';
import { loadConfig, type Environment } from '../../src/config';
import { buildNegotiateHandler } from '../../src/negotiate/from-config';
import { createPushApi, type PushOperation } from '../../src/push/api';
import { bearerRoleAuthorizer } from '../../src/push/authorization';
import { createOriginPolicy } from '../../src/protocol/origins';
import type { Emulator } from '../../emulator';
import { refusedStatus, restRequest, signToken, startEmulator, TEST_KEY } from '../emulator/helpers';
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
  type EventKind,
} from '../support/cloud-events';
import { AUDIENCE, forgedTokens, startTestIssuer, type TestIssuer } from '../support/oidc-issuer';

/**
 * The spoofing table of issue 9: every way we know to get an event, a client token, a push or a connection
 * accepted without the right secret. Each row names what the attacker does, the refusal it must get, and
 * checks that nothing was accepted: no hook ran, no token was handed out, the service was not called, no
 * socket opened. Signatures come from the OpenSSL vectors, JWTs from jose (test/support), never from src/.
 */

// HMAC-SHA256 of our fixture connection id under the key that was rotated out ("test-access-key"):
//   printf '%s' 0f9c97a2f0bf4706afe87a14e0797b11 | openssl dgst -sha256 -hmac test-access-key
const RETIRED_KEY_SIGNATURE = 'sha256=5fa527e76e90ae2751ebb4f79ee781ef0de33471309eb4eb0a5dee225bed5c94';
// vectors[2]: a genuine signature, but of connection "conn1" under the emulator's key.
const OTHER_CONNECTION = vectors.vectors[2]!;
const PROBLEM_TYPE = 'urn:webpubsub-functions:problem:';
const APP_ORIGIN = 'https://chat.contoso.com';
const NEGOTIATE_KEY = 'SpoofingTestAccessKey0123456789abcdefghijklmnop';

interface Outcome {
  status: number;
  /** The problem code (the last segment of the problem type), when the answer is a problem. */
  code?: string;
  /** Anything got through: a hook ran, a token was issued, the service was called, a socket opened. */
  accepted: boolean;
}

interface Row {
  layer: 'webhook' | 'negotiate' | 'push' | 'emulator';
  attack: string;
  status: number;
  code?: string;
  run: () => Promise<Outcome>;
}

let issuer: TestIssuer | undefined;
let emulator: Emulator | undefined;

/** The issuer, started in beforeAll; the table is built before that, so rows reach it through this. */
const lazyIssuer = new Proxy({} as TestIssuer, {
  get: (_target, property) => Reflect.get(started(issuer), property) as unknown,
});

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('beforeAll has not run');
  return value;
}

beforeAll(async () => {
  issuer = await startTestIssuer();
  emulator = await startEmulator();
});

afterAll(async () => {
  await issuer?.close();
  await emulator?.close();
});

function codeOf(response: CoreResponse): string | undefined {
  const text = bodyText(response);
  if (!text.startsWith('{')) return undefined;
  const type = (JSON.parse(text) as { type?: unknown }).type;
  return typeof type === 'string' && type.startsWith(PROBLEM_TYPE)
    ? type.slice(PROBLEM_TYPE.length)
    : undefined;
}

// ---- webhook ------------------------------------------------------------------------------------------

/** An event to a webhook that serves hub "chat", trusts our origin, and holds only the current key. */
async function webhookEvent(
  overrides: Record<string, string | undefined>,
  options: { kind?: EventKind; method?: string; url?: string; keyless?: boolean } = {},
): Promise<Outcome> {
  const hooks = { connect: jest.fn(), userEvent: jest.fn(), connected: jest.fn(), disconnected: jest.fn() };
  const webhook = createWebhook({
    hubs: ['chat'],
    origins: createOriginPolicy([ORIGIN]),
    authenticators: [
      options.keyless === true ? functionKeyAuthenticator() : signatureAuthenticator([ACCESS_KEY]),
    ],
    hooks: hooks,
    maxBodyBytes: 64 * 1024,
    maxStateBytes: 4096,
  });
  const kind = options.kind ?? 'connect';
  const request = coreRequest({
    method: options.method ?? 'POST',
    url: options.url ?? 'https://app.example/api/webpubsub/events',
    headers: eventHeaders(kind, overrides),
    body: kind === 'connect' ? JSON.stringify(connectBody()) : 'hello',
  });
  const response = await webhook(request, captureLog());
  const accepted = Object.values(hooks).some((hook) => hook.mock.calls.length > 0) || request.bodyRead;
  return { status: response.status, code: codeOf(response), accepted };
}

// ---- negotiate ----------------------------------------------------------------------------------------

function negotiateEnv(extra: Environment = {}): Environment {
  return {
    WebPubSubConnectionString: `Endpoint=https://contoso.webpubsub.azure.com;AccessKey=${NEGOTIATE_KEY};Version=1.0;`,
    WebPubSubHub: 'chat',
    NegotiateIdentity: 'bearer',
    NegotiateIssuer: started(issuer).issuer,
    NegotiateAudience: AUDIENCE,
    NegotiateAllowedGroups: 'lobby,user.{userId}',
    CorsAllowedOrigins: APP_ORIGIN,
    ...extra,
  };
}

async function negotiate(
  headers: Record<string, string>,
  options: { query?: string; env?: Environment } = {},
): Promise<Outcome> {
  const config = loadConfig(negotiateEnv(options.env));
  const handler = buildNegotiateHandler(config, { jwks: started(issuer).jwks });
  const request = coreRequest({
    method: 'GET',
    url: `https://app.example/api/negotiate${options.query ?? ''}`,
    headers: { origin: APP_ORIGIN, ...headers },
  });
  const response = await handler(request, captureLog());
  const body = bodyText(response);
  return { status: response.status, code: codeOf(response), accepted: /access_token|"token"/.test(body) };
}

function forgedPrincipal(id: string): Record<string, string> {
  return {
    'x-ms-client-principal': Buffer.from(
      JSON.stringify({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'admin' }] }),
    ).toString('base64'),
    'x-ms-client-principal-id': id,
    'x-ms-client-principal-name': `${id}@contoso.com`,
  };
}

// ---- push ---------------------------------------------------------------------------------------------

/** A push in production mode: the platform checked the function key; a bearer token with the role is needed. */
async function push(operation: PushOperation, headers: Record<string, string>): Promise<Outcome> {
  const forHub = jest.fn(() => Promise.reject(new Error('the service must not be called')));
  const verify = createJwtVerifier({
    issuers: [started(issuer).issuer],
    audience: AUDIENCE,
    jwks: started(issuer).jwks,
  });
  const api = createPushApi({
    hubs: ['chat'],
    clients: { forHub },
    authorizer: bearerRoleAuthorizer(verify, 'roles'),
    roles: { send: 'Messages.Send', manage: 'Groups.Manage' },
    serviceTimeoutMs: 1000,
  });
  const response = await api[operation](
    {
      method: 'POST',
      url: 'https://app.example/api/hubs/chat/groups/g1/users/u1?code=leaked-function-key',
      headers: new Headers({ 'content-type': 'text/plain', ...headers }),
      params: { hub: 'chat', group: 'g1', userId: 'u1' },
      readBody: () => Promise.resolve(Buffer.from('hello')),
    },
    captureLog(),
  );
  return { status: response.status, code: codeOf(response), accepted: forHub.mock.calls.length > 0 };
}

async function bearer(options: Parameters<TestIssuer['token']>[0]): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await started(issuer).token(options)}` };
}

// ---- emulator -----------------------------------------------------------------------------------------

async function emulatorConnect(hub: string, token: string): Promise<Outcome> {
  const url = `${started(emulator).endpoint.replace(/^http/, 'ws')}/client/hubs/${hub}?access_token=${token}`;
  try {
    return { status: await refusedStatus(url), accepted: false };
  } catch {
    return { status: 101, accepted: true };
  }
}

function clientAudience(hub: string): string {
  return `${started(emulator).endpoint}/client/hubs/${hub}`;
}

// ---- the table ----------------------------------------------------------------------------------------

const ROWS: Row[] = [
  // The webhook: anyone on the internet can find its URL.
  {
    layer: 'webhook',
    attack: 'posts a connect event with no ce-signature',
    status: 401,
    code: 'missing-signature',
    run: () => webhookEvent({ 'ce-signature': undefined }),
  },
  {
    layer: 'webhook',
    attack: 'signs with the key that was rotated out (the old secondary key)',
    status: 401,
    code: 'invalid-signature',
    run: () => webhookEvent({ 'ce-signature': RETIRED_KEY_SIGNATURE }),
  },
  {
    layer: 'webhook',
    attack: "replays a genuine event's signature for another connection id",
    status: 401,
    code: 'invalid-signature',
    run: () =>
      webhookEvent({
        'ce-connectionid': 'attacker-connection',
        'ce-source': '/hubs/chat/client/attacker-connection',
      }),
  },
  {
    layer: 'webhook',
    attack: "presents another connection's genuine signature (under another resource's key)",
    status: 401,
    code: 'invalid-signature',
    run: () =>
      webhookEvent({
        'ce-connectionid': OTHER_CONNECTION.connectionId,
        'ce-signature': `sha256=${OTHER_CONNECTION.hex}`,
      }),
  },
  {
    layer: 'webhook',
    attack: 'truncates the genuine signature',
    status: 401,
    code: 'invalid-signature',
    run: () => webhookEvent({ 'ce-signature': SIGNATURE.slice(0, -2) }),
  },
  {
    layer: 'webhook',
    attack: 'sends the right signature with another hub',
    status: 404,
    code: 'unknown-hub',
    run: () => webhookEvent({ 'ce-hub': 'admin', 'ce-source': `/hubs/admin/client/${CONNECTION_ID}` }),
  },
  {
    layer: 'webhook',
    attack: 'sends the right signature from an origin that is not our resource',
    status: 403,
    code: 'origin-not-allowed',
    run: () => webhookEvent({ 'webhook-request-origin': 'evil.example.com' }),
  },
  {
    layer: 'webhook',
    attack: 'validates the webhook (OPTIONS) for its own resource',
    status: 403,
    code: 'origin-not-allowed',
    run: () => webhookEvent({ 'webhook-request-origin': 'evil.webpubsub.azure.com' }, { method: 'OPTIONS' }),
  },
  {
    layer: 'webhook',
    attack: 'posts a user event to a keyless-mode webhook without the function key',
    status: 401,
    code: 'missing-function-key',
    run: () => webhookEvent({}, { kind: 'user.message', keyless: true }),
  },
  // Negotiate: hands out client tokens, so its caller must be who it says.
  {
    layer: 'negotiate',
    attack: 'sends App Service principal headers to an app without platform authentication',
    status: 401,
    code: 'untrusted-principal',
    run: () => negotiate(forgedPrincipal('admin'), { env: { NegotiateIdentity: 'appservice' } }),
  },
  {
    layer: 'negotiate',
    attack: 'sends forged principal headers hoping to fall through to anonymous',
    status: 401,
    code: 'untrusted-principal',
    run: () => negotiate(forgedPrincipal('admin'), { env: { NegotiateIdentity: 'appservice,anonymous' } }),
  },
  ...forgedTokens(lazyIssuer).map(([label, token]): Row => ({
    layer: 'negotiate',
    attack: `presents a tampered JWT: ${label}`,
    status: 401,
    code: 'invalid-token',
    run: async () => negotiate({ authorization: `Bearer ${await token()}` }),
  })),
  {
    layer: 'negotiate',
    attack: "asks, with a genuine token, for another user's personal group",
    status: 403,
    code: 'group-not-allowed',
    run: async () => negotiate(await bearer({ subject: 'alice' }), { query: '?groups=user.bob' }),
  },
  {
    layer: 'negotiate',
    attack: 'asks, with a genuine token, for a hub this app does not open to clients',
    status: 403,
    code: 'hub-not-allowed',
    run: async () => negotiate(await bearer({ subject: 'alice' }), { query: '?hub=admin' }),
  },
  // Push: the function key alone (leaked) must not be enough in production mode.
  {
    layer: 'push',
    attack: 'pushes with a leaked function key and no bearer token',
    status: 401,
    code: 'missing-token',
    run: () => push('sendToGroup', {}),
  },
  {
    layer: 'push',
    attack: 'pushes with a token signed by a key the issuer does not have',
    status: 401,
    code: 'invalid-token',
    run: async () =>
      push(
        'sendToGroup',
        await bearer({ key: started(issuer).impostorKey, claims: { roles: ['Messages.Send'] } }),
      ),
  },
  {
    layer: 'push',
    attack: 'pushes with a genuine token that carries no app role',
    status: 403,
    code: 'missing-role',
    run: async () => push('sendToGroup', await bearer({})),
  },
  {
    layer: 'push',
    attack: 'manages groups with a genuine token that only carries the send role',
    status: 403,
    code: 'missing-role',
    run: async () => push('addUserToGroup', await bearer({ claims: { roles: ['Messages.Send'] } })),
  },
  // The emulator (development only) checks client tokens as the service does.
  {
    layer: 'emulator',
    attack: 'connects with a client token signed by another key',
    status: 401,
    run: async () =>
      emulatorConnect(
        'chat',
        await signToken({ aud: clientAudience('chat') }, 'not-the-access-key-0123456789'),
      ),
  },
  {
    layer: 'emulator',
    attack: 'connects to hub admin with a token minted for hub chat',
    status: 401,
    run: async () => emulatorConnect('admin', await signToken({ aud: clientAudience('chat') })),
  },
  {
    layer: 'emulator',
    attack: 'calls the REST API with a token signed by another key',
    status: 401,
    run: async () => {
      const response = await restRequest(
        started(emulator),
        'POST',
        '/api/hubs/chat/:send?api-version=2024-01-01',
        {
          body: 'hello',
          contentType: 'text/plain',
          key: 'not-the-access-key-0123456789',
        },
      );
      await response.arrayBuffer();
      return { status: response.status, accepted: response.status < 300 };
    },
  },
];

test.each(ROWS.map((row) => [row.layer, row.attack, row] as const))(
  '%s: an attacker who %s is refused',
  async (_layer, _attack, row) => {
    const outcome = await row.run();
    expect({ status: outcome.status, code: outcome.code ?? row.code, accepted: outcome.accepted }).toEqual({
      status: row.status,
      code: row.code,
      accepted: false,
    });
  },
);

// Controls: the same harness with the right secrets accepts, so a refusal above is the check, not the harness.
test.each<[string, () => Promise<Outcome>, number]>([
  ['webhook: a genuine signed connect event', () => webhookEvent({}), 204],
  [
    'webhook, keyless: a user event with the function key',
    () =>
      webhookEvent(
        {},
        { kind: 'user.message', keyless: true, url: 'https://app.example/api/webpubsub/events?code=k' },
      ),
    204,
  ],
  [
    'negotiate: a genuine token',
    async () => negotiate(await bearer({ subject: 'alice' }), { query: '?groups=user.alice' }),
    200,
  ],
  [
    'push: a genuine token with the send role',
    async () => push('sendToGroup', await bearer({ claims: { roles: ['Messages.Send'] } })),
    500,
  ],
  [
    'emulator: a client token signed with the access key',
    async () => emulatorConnect('chat', await signToken({ aud: clientAudience('chat') })),
    101,
  ],
])('control: %s is accepted', async (_label, run, status) => {
  const outcome = await run();
  expect(outcome).toMatchObject({ status, accepted: true });
});

test('the table holds a row for every forged token of the shared attack list', () => {
  const labels = forgedTokens(lazyIssuer).map(([label]) => `presents a tampered JWT: ${label}`);
  expect(ROWS.map((row) => row.attack)).toEqual(expect.arrayContaining(labels));
  // The emulator's key is not the one the table uses for its forgeries.
  expect(TEST_KEY).not.toBe('not-the-access-key-0123456789');
});
