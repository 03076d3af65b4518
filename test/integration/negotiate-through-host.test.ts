import { join } from 'node:path';
import {
  WebPubSubClient,
  WebPubSubJsonProtocol,
  type OnGroupDataMessageArgs,
} from '@azure/web-pubsub-client';
import { SignJWT, generateKeyPair } from 'jose';
import { startLocalHost, type LocalHost } from '../../dev/host/server';
import { createEmulator, type Emulator } from '../../emulator';
import { decodePayload } from '../support/oidc-issuer';

/**
 * The real negotiate function (src/functions/negotiate.ts) served by the local Functions host over HTTP on
 * port 0, with callers signed in by the host's development issuer: the app finds the issuer's keys by
 * OpenID Connect discovery, exactly as it does with Entra ID in production. The URL it hands out is then
 * used by @azure/web-pubsub-client against the local Web PubSub emulator, which enforces the roles.
 */
const ROOT = join(__dirname, '..', '..');
const ACCESS_KEY = 'NegotiateIntegrationAccessKey0123456789abcdefg';
const AUDIENCE = 'api://negotiate-integration';

const savedEnv = new Map<string, string | undefined>();
const logLines: string[] = [];
let emulator: Emulator;
let host: LocalHost;
const clients: WebPubSubClient[] = [];

function isAppSetting(name: string): boolean {
  return (
    name.startsWith('WebPubSub') ||
    name.startsWith('Negotiate') ||
    name === 'CorsAllowedOrigins' ||
    name === 'AZURE_CLIENT_ID' ||
    name === 'WEBSITE_AUTH_ENABLED'
  );
}

function setEnv(name: string, value: string): void {
  if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
  process.env[name] = value;
}

beforeAll(async () => {
  for (const name of Object.keys(process.env).filter(isAppSetting)) {
    savedEnv.set(name, process.env[name]);
    Reflect.deleteProperty(process.env, name);
  }
  emulator = await createEmulator({ port: 0, accessKey: ACCESS_KEY });
  // Config is read once per module registry, on the first request: the environment is ready before that.
  setEnv('WebPubSubConnectionString', emulator.connectionString);
  setEnv('WebPubSubHub', 'chat');
  setEnv('NegotiateIdentity', 'bearer');
  setEnv('NegotiateAudience', AUDIENCE);
  setEnv('NegotiateAllowedGroups', 'lobby,room.*');
  setEnv('CorsAllowedOrigins', 'http://localhost:5173');
  host = await startLocalHost({
    rootDir: ROOT,
    port: 0,
    entry: ['src/functions/negotiate.ts'],
    applySettings: false,
    devIssuer: true,
    log: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  for (const client of clients) client.stop();
  await host.close();
  await emulator.close();
  for (const [name, value] of savedEnv) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
});

const negotiateUrl = (query = ''): string => `http://127.0.0.1:${host.port}/api/negotiate${query}`;

async function signIn(body: Record<string, unknown>): Promise<string> {
  const response = await fetch(host.devIssuer!.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  const answer = (await response.json()) as { access_token: string; token_type: string; expires_in: number };
  expect(answer.token_type).toBe('Bearer');
  return answer.access_token;
}

async function negotiate(token: string | undefined, query = ''): Promise<Response> {
  return fetch(
    negotiateUrl(query),
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
}

describe('the local host and its development issuer', () => {
  it('registers negotiate at the pinned route: GET, POST, OPTIONS, anonymous (identity is the gate)', () => {
    expect(
      host.functions.map((fn) => `${fn.name} ${fn.methods.join(',')} ${fn.route} ${fn.authLevel}`),
    ).toEqual(['negotiate GET,POST,OPTIONS negotiate anonymous']);
  });

  it('points NegotiateIssuer at the development issuer, which publishes a discovery document and a JWKS', async () => {
    const issuer = host.devIssuer!.issuer;
    expect(issuer).toBe(`http://127.0.0.1:${host.port}/.dev-issuer`);
    expect(process.env.NegotiateIssuer).toBe(issuer);
    expect(host.appliedSettings).toContain('NegotiateIssuer');
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery).toMatchObject({
      issuer,
      jwks_uri: `${issuer}/jwks`,
      token_endpoint: `${issuer}/token`,
    });
    const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('signs an RS256 token for the asked subject, for the configured audience', async () => {
    const token = await signIn({ sub: 'alice', roles: ['webpubsub.sendToGroups.news.*'], name: 'Alice' });
    expect(decodePayload(token)).toMatchObject({
      iss: host.devIssuer!.issuer,
      aud: AUDIENCE,
      sub: 'alice',
      roles: ['webpubsub.sendToGroups.news.*'],
      name: 'Alice',
    });
  });

  it('refuses a token request without a subject (400)', async () => {
    const response = await fetch(host.devIssuer!.tokenEndpoint, { method: 'POST', body: '{}' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('is not an app function: nothing under /api serves it', async () => {
    expect((await fetch(`http://127.0.0.1:${host.port}/api/.dev-issuer/jwks`)).status).toBe(404);
  });

  it('is not served by a host that does not enable it', async () => {
    const plain = await startLocalHost({
      rootDir: ROOT,
      port: 0,
      entry: ['src/functions/negotiate.ts'],
      applySettings: false,
      log: () => {},
    });
    try {
      expect(plain.devIssuer).toBeUndefined();
      expect((await fetch(`http://127.0.0.1:${plain.port}/.dev-issuer/jwks`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

describe('GET /api/negotiate through the local host', () => {
  it('turns a signed-in caller into a client access URL for the emulator', async () => {
    const token = await signIn({ sub: 'alice' });
    const response = await negotiate(token, '?groups=room.1&userId=mallory');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      userId: 'alice',
      hub: 'chat',
      groups: ['room.1'],
      roles: ['webpubsub.joinLeaveGroup.room.1', 'webpubsub.sendToGroup.room.1'],
      baseUrl: `${emulator.endpoint.replace('http', 'ws')}/client/hubs/chat`,
    });
    // The request's query (which may hold tokens) never reaches the log.
    expect(logLines.join('\n')).not.toContain('mallory');
  });

  it('401 without a token, and for a token the development issuer did not sign', async () => {
    expect((await negotiate(undefined)).status).toBe(401);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'forged' })
      .setIssuer(host.devIssuer!.issuer)
      .setAudience(AUDIENCE)
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);
    const response = await negotiate(forged);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });

  it('401 for a development token made for another audience', async () => {
    expect((await negotiate(await signIn({ sub: 'alice', aud: 'api://other' }))).status).toBe(401);
  });

  it('403 for a group or hub outside policy', async () => {
    const token = await signIn({ sub: 'alice' });
    expect((await negotiate(token, '?groups=admins')).status).toBe(403);
    expect((await negotiate(token, '?hub=admin')).status).toBe(403);
  });

  it('answers the CORS preflight of an allowed origin', async () => {
    const response = await fetch(negotiateUrl(), {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
  });
});

describe('@azure/web-pubsub-client connects with the negotiated URL', () => {
  function connect(subject: string, query: string): { client: WebPubSubClient; connected: Promise<string> } {
    const client = new WebPubSubClient(
      {
        // The client's contract: a function that returns the client access URL, called on every (re)connect.
        getClientAccessUrl: async () => {
          const response = await negotiate(await signIn({ sub: subject }), query);
          expect(response.status).toBe(200);
          return ((await response.json()) as { url: string }).url;
        },
      },
      {
        autoReconnect: false,
        messageRetryOptions: { maxRetries: 0 },
        // No timers left behind after stop(): no keep-alive pings, no idle monitor, and the plain JSON
        // protocol (the reliable one acknowledges sequence ids on a 1 s timer).
        keepAliveIntervalInMs: 0,
        keepAliveTimeoutInMs: 0,
        protocol: WebPubSubJsonProtocol(),
      },
    );
    clients.push(client);
    const connected = new Promise<string>((resolve) => {
      client.on('connected', (event) => resolve(event.userId));
    });
    return { client, connected };
  }

  async function stop(client: WebPubSubClient): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      client.on('stopped', () => resolve());
    });
    client.stop();
    await stopped;
  }

  it('is the user the token names, in the groups the token lists, with exactly the granted rights', async () => {
    const { client, connected } = connect('alice', '?groups=room.1');
    await client.start();
    expect(await connected).toBe('alice');

    // Joined room.1 through the token, and allowed to send to it: the message comes back.
    const received = new Promise<OnGroupDataMessageArgs>((resolve) => {
      client.on('group-message', (event) => resolve(event));
    });
    await client.sendToGroup('room.1', 'hello room', 'text');
    expect((await received).message).toMatchObject({
      group: 'room.1',
      data: 'hello room',
      fromUserId: 'alice',
    });

    // No role was granted for room.2: the emulator refuses both joining it and sending to it.
    await expect(client.joinGroup('room.2')).rejects.toMatchObject({ errorDetail: { name: 'Forbidden' } });
    await expect(client.sendToGroup('room.2', 'nope', 'text')).rejects.toMatchObject({
      errorDetail: { name: 'Forbidden' },
    });
    // Leaving room.1 is within the granted joinLeaveGroup role.
    await expect(client.leaveGroup('room.1')).resolves.toBeDefined();
    await stop(client);
  });

  it('a caller with no groups may send events but not join any group', async () => {
    const { client, connected } = connect('bob', '');
    await client.start();
    expect(await connected).toBe('bob');
    await expect(client.joinGroup('lobby')).rejects.toMatchObject({ errorDetail: { name: 'Forbidden' } });
    await stop(client);
  });
});
