import { join } from 'node:path';
import { startLocalHost, type LocalHost } from '../../dev/host/server';
import { ACCESS_KEY, CONNECTION_ID, ORIGIN, connectBody, eventHeaders } from '../support/cloud-events';

/**
 * The real app (src/functions/webhook.ts and health.ts) served by the local Functions host over real HTTP,
 * with requests signed as the service signs them (the key/connection vector comes from outside this repo).
 */
const ROOT = join(__dirname, '..', '..');
const ENTRY = ['src/functions/webhook.ts', 'src/functions/health.ts'];
const FUNCTION_KEY = 'webhook-test-function-key';
const CONNECTION_STRING = `Endpoint=https://myresource.webpubsub.azure.com;AccessKey=${ACCESS_KEY};Version=1.0;`;

const savedEnv = new Map<string, string | undefined>();
const logLines: string[] = [];
let host: LocalHost;

/** Settings this file depends on; anything else of ours that is set could change the app's behaviour. */
function isAppSetting(name: string): boolean {
  return name.startsWith('WebPubSub') || name === 'AZURE_CLIENT_ID';
}

beforeAll(async () => {
  // Config is read once per module registry, on first use: set the environment before anything loads it.
  for (const name of Object.keys(process.env).filter(isAppSetting)) {
    savedEnv.set(name, process.env[name]);
    Reflect.deleteProperty(process.env, name);
  }
  for (const name of ['WebPubSubConnectionString', 'WebPubSubHub']) savedEnv.set(name, process.env[name]);
  process.env.WebPubSubConnectionString = CONNECTION_STRING;
  process.env.WebPubSubHub = 'chat';
  host = await startLocalHost({
    rootDir: ROOT,
    port: 0,
    entry: ENTRY,
    applySettings: false,
    log: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  await host.close();
  for (const [name, value] of savedEnv) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
});

function url(path: string, port = host.port): string {
  return `http://127.0.0.1:${port}/api${path}`;
}

function postEvent(
  kind: Parameters<typeof eventHeaders>[0],
  body: string | Uint8Array,
  overrides: Record<string, string | undefined> = {},
  query = '',
  port = host.port,
): Promise<Response> {
  return fetch(url(`/webpubsub/events${query}`, port), {
    method: 'POST',
    headers: eventHeaders(kind, overrides),
    body,
  });
}

async function expectProblem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const problem = (await response.json()) as Record<string, unknown>;
  expect(problem.status).toBe(status);
  return problem;
}

describe('the real app through the local host', () => {
  it('registers exactly the webhook and health functions with their pinned routes', () => {
    const summary = host.functions
      .map((fn) => `${fn.name} ${fn.methods.join(',')} ${fn.route} ${fn.authLevel}`)
      .sort();
    expect(summary).toEqual([
      'health GET health anonymous',
      'webpubsubEvents OPTIONS,POST webpubsub/events function',
    ]);
  });

  describe('GET /api/health', () => {
    it('answers 200 with the service mode, the hubs and how each entry point authenticates', async () => {
      const response = await fetch(url('/health'));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await response.text();
      expect(JSON.parse(text)).toMatchObject({
        status: 'ok',
        serviceMode: 'key',
        endpoint: 'https://myresource.webpubsub.azure.com',
        defaultHub: 'chat',
        hubs: ['chat'],
        webhookAuthentication: ['signature'],
        // Nothing configured for them here: negotiate refuses everyone, push needs the function key alone.
        negotiateIdentity: [],
        pushAuthorization: ['function-key'],
      });
      expect(text).not.toContain(ACCESS_KEY);
    });

    it('is GET only', async () => {
      expect((await fetch(url('/health'), { method: 'POST' })).status).toBe(404);
    });
  });

  describe('OPTIONS /api/webpubsub/events (abuse protection)', () => {
    it('echoes an allowed origin in WebHook-Allowed-Origin', async () => {
      const response = await fetch(url('/webpubsub/events'), {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': ORIGIN },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('webhook-allowed-origin')).toBe(ORIGIN);
    });

    it('picks the allowed origin out of a list', async () => {
      const response = await fetch(url('/webpubsub/events'), {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': `evil.example.com, ${ORIGIN}` },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('webhook-allowed-origin')).toBe(ORIGIN);
    });

    it('refuses another origin with 403 and no WebHook-Allowed-Origin', async () => {
      const response = await fetch(url('/webpubsub/events'), {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': 'evil.example.com' },
      });
      await expectProblem(response, 403);
      expect(response.headers.get('webhook-allowed-origin')).toBeNull();
    });
  });

  describe('connect', () => {
    it('admits a signed connect with a user id and picks the offered Web PubSub subprotocol', async () => {
      const response = await postEvent('connect', JSON.stringify(connectBody()));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({ subprotocol: 'json.webpubsub.azure.v1' });
    });

    it('prefers the reliable subprotocol when it is offered too', async () => {
      const body = connectBody({
        subprotocols: ['protocol2', 'json.webpubsub.azure.v1', 'json.reliable.webpubsub.azure.v1'],
      });
      const response = await postEvent('connect', JSON.stringify(body));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ subprotocol: 'json.reliable.webpubsub.azure.v1' });
    });

    it('answers 204 when no Web PubSub subprotocol was offered', async () => {
      const response = await postEvent(
        'connect',
        JSON.stringify(connectBody({ subprotocols: ['protocol2'] })),
      );
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
    });

    it('refuses a connect without ce-userid with 401', async () => {
      const response = await postEvent('connect', JSON.stringify(connectBody()), { 'ce-userid': undefined });
      expect((await expectProblem(response, 401)).type).toMatch(/connect-rejected$/);
    });

    it('refuses a wrong signature with 401 problem+json', async () => {
      const response = await postEvent('connect', JSON.stringify(connectBody()), {
        'ce-signature': `sha256=${'00'.repeat(32)}`,
      });
      expect((await expectProblem(response, 401)).type).toMatch(/invalid-signature$/);
    });

    it('refuses the right signature presented for another connection', async () => {
      const response = await postEvent('connect', JSON.stringify(connectBody()), {
        'ce-connectionid': `${CONNECTION_ID}0`,
      });
      expect((await expectProblem(response, 401)).type).toMatch(/invalid-signature$/);
    });

    it('refuses a missing signature with 401', async () => {
      const response = await postEvent('connect', JSON.stringify(connectBody()), {
        'ce-signature': undefined,
      });
      expect((await expectProblem(response, 401)).type).toMatch(/missing-signature$/);
    });
  });

  describe('user events', () => {
    it('echoes a text "echo" event with the same bytes as text/plain', async () => {
      const text = 'héllo ☃ wörld';
      const response = await postEvent('user.echo', text, { 'content-type': 'text/plain; charset=utf-8' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(text, 'utf8'))).toBe(true);
    });

    it('echoes a JSON "echo" event as application/json', async () => {
      const json = '{"a":[1,2],"b":"é","c":{"d":null}}';
      const response = await postEvent('user.echo', json, { 'content-type': 'application/json' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await response.text()).toBe(json);
    });

    it('echoes a binary "echo" event byte for byte as application/octet-stream', async () => {
      const bytes = new Uint8Array([0, 255, 1, 254, 0x7b, 0x0d, 0x0a, 0x80]);
      const response = await postEvent('user.echo', bytes, { 'content-type': 'application/octet-stream' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/octet-stream');
      expect(Buffer.from(await response.arrayBuffer()).toString('hex')).toBe('00ff01fe7b0d0a80');
    });

    it('acknowledges any other user event with 204 and no body', async () => {
      const response = await postEvent('user.message', 'hello', { 'content-type': 'text/plain' });
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
    });

    it('refuses a user event with a wrong signature before the app sees it', async () => {
      const response = await postEvent('user.echo', 'hello', { 'ce-signature': `sha256=${'ab'.repeat(32)}` });
      await expectProblem(response, 401);
    });
  });

  describe('connected and disconnected', () => {
    it('acknowledges connected with 204', async () => {
      const response = await postEvent('connected', '{}');
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
    });

    it('acknowledges disconnected with 204', async () => {
      const response = await postEvent('disconnected', '{"reason":"client closed"}');
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
    });
  });

  it('logs the requests without their query strings', async () => {
    const before = logLines.length;
    await postEvent('connected', '{}', {}, '?code=query-secret-value');
    const lines = logLines.slice(before);
    expect(lines).toContainEqual(
      expect.stringMatching(/^POST \/api\/webpubsub\/events -> 204 webpubsubEvents /),
    );
    expect(lines.join('\n')).not.toContain('query-secret-value');
  });
});

describe('the real app with function keys enforced by the host', () => {
  let keyed: LocalHost;

  beforeAll(async () => {
    keyed = await startLocalHost({
      rootDir: ROOT,
      port: 0,
      entry: ENTRY,
      applySettings: false,
      functionKey: FUNCTION_KEY,
      log: () => {},
    });
  });

  afterAll(async () => {
    await keyed.close();
  });

  it('refuses a signed event without ?code= with the host 401 (empty body)', async () => {
    const response = await postEvent('connect', JSON.stringify(connectBody()), {}, '', keyed.port);
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('');
  });

  it('passes a signed event with ?code= to the webhook (200)', async () => {
    const response = await postEvent(
      'connect',
      JSON.stringify(connectBody()),
      {},
      `?code=${FUNCTION_KEY}`,
      keyed.port,
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ subprotocol: 'json.webpubsub.azure.v1' });
  });

  it('still checks the signature behind a valid function key', async () => {
    const response = await postEvent(
      'connect',
      JSON.stringify(connectBody()),
      { 'ce-signature': `sha256=${'00'.repeat(32)}` },
      `?code=${FUNCTION_KEY}`,
      keyed.port,
    );
    await expectProblem(response, 401);
  });

  it('keeps health anonymous', async () => {
    expect((await fetch(url('/health', keyed.port))).status).toBe(200);
  });
});
