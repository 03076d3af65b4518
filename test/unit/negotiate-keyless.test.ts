import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { SignJWT } from 'jose';
import { loadConfig } from '../../src/config';
import type { CoreResponse } from '../../src/http/types';
import { buildNegotiateHandler } from '../../src/negotiate/from-config';
import { createServiceClients } from '../../src/service/clients';
import { captureLog, coreRequest } from '../support/cloud-events';
import { AUDIENCE, startTestIssuer, type TestIssuer } from '../support/oidc-issuer';

/**
 * Keyless mode: no access key, so the service issues the client token. The service's
 * `POST /api/hubs/{hub}/:generateToken` is answered by a local HTTPS server (the SDK refuses bearer tokens
 * over http), the managed identity by a fake token credential. What the SDK sends is the reference for the
 * request; the handler must hand back the service's token unchanged.
 */

// Records whether @azure/identity is ever loaded, and stands in for managed identity when it is.
const mockIdentity = { loads: 0, constructed: [] as unknown[] };
jest.mock('@azure/identity', () => {
  mockIdentity.loads += 1;
  return {
    ManagedIdentityCredential: class {
      constructor(options?: unknown) {
        mockIdentity.constructed.push(options ?? null);
      }
      getToken(): Promise<AccessToken> {
        return Promise.resolve({
          token: 'managed-identity-token',
          expiresOnTimestamp: Date.now() + 3_600_000,
        });
      }
    },
  };
});

const TLS = join(__dirname, '..', 'fixtures', 'tls');
const CA = readFileSync(join(TLS, 'localhost.cert.pem'));

interface ServiceCall {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
}

let service: Server;
let endpoint: string;
let answerStatus = 200;
const calls: ServiceCall[] = [];
const SERVICE_SECRET = new TextEncoder().encode('the-service-own-signing-secret-0123456789');
let lastIssued = '';
let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await startTestIssuer();
  service = createServer({ cert: CA, key: readFileSync(join(TLS, 'localhost.key.pem')) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    calls.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
    });
    req.resume();
    if (answerStatus !== 200) {
      res.writeHead(answerStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'Forbidden', message: 'no role assignment' }));
      return;
    }
    const minutes = Number(url.searchParams.get('minutesToExpire') ?? '60');
    const now = Math.floor(Date.now() / 1000);
    void new SignJWT({
      role: url.searchParams.getAll('role'),
      'webpubsub.group': url.searchParams.getAll('group'),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(url.searchParams.get('userId') ?? '')
      .setIssuedAt(now)
      .setExpirationTime(now + minutes * 60)
      .sign(SERVICE_SECRET)
      .then((token) => {
        lastIssued = token;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token }));
      });
  });
  service.listen(0, '127.0.0.1');
  await once(service, 'listening');
  endpoint = `https://127.0.0.1:${(service.address() as AddressInfo).port}`;
});

afterAll(async () => {
  service.closeAllConnections();
  service.close();
  await issuer.close();
});

beforeEach(() => {
  calls.length = 0;
  answerStatus = 200;
});

class FakeCredential implements TokenCredential {
  readonly scopes: (string | string[])[] = [];
  getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    this.scopes.push(scopes);
    return Promise.resolve({ token: 'fake-entra-token', expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}

function settings(extra: Record<string, string> = {}) {
  return loadConfig({
    WebPubSubEndpoint: endpoint,
    WebPubSubHubs: 'chat,other',
    NegotiateIdentity: 'bearer',
    NegotiateIssuer: issuer.issuer,
    NegotiateAudience: AUDIENCE,
    NegotiateAllowedGroups: 'room.*',
    NegotiateRoles: 'webpubsub.joinLeaveGroups.room.*',
    ...extra,
  });
}

function handlerWith(credential: TokenCredential, extra: Record<string, string> = {}) {
  const config = settings(extra);
  const clients = createServiceClients(config.service, {
    credential,
    clientOptions: { tlsOptions: { ca: CA }, retryOptions: { maxRetries: 0 } },
  });
  return buildNegotiateHandler(config, { serviceClients: clients, jwks: issuer.jwks });
}

async function negotiate(
  handler: ReturnType<typeof buildNegotiateHandler>,
  query: string,
  subject = 'alice',
): Promise<CoreResponse> {
  return handler(
    coreRequest({
      method: 'GET',
      url: `https://app.example/api/negotiate${query}`,
      headers: { authorization: `Bearer ${await issuer.token({ subject })}` },
    }),
    captureLog(),
  );
}

function json(response: CoreResponse): Record<string, unknown> {
  return JSON.parse(Buffer.from(response.body ?? '').toString('utf8')) as Record<string, unknown>;
}

describe('keyless negotiate: the service issues the token', () => {
  it('calls :generateToken as the SDK does and hands back the service token unchanged', async () => {
    const credential = new FakeCredential();
    const response = await negotiate(handlerWith(credential), '?groups=room.1');
    expect(response.status).toBe(200);
    const body = json(response);
    expect(body.token).toBe(lastIssued);
    expect(body.url).toBe(`${endpoint.replace('https', 'wss')}/client/hubs/chat?access_token=${lastIssued}`);
    expect(body.baseUrl).toBe(`${endpoint.replace('https', 'wss')}/client/hubs/chat`);
    expect(body).toMatchObject({
      userId: 'alice',
      hub: 'chat',
      groups: ['room.1'],
      roles: [
        'webpubsub.joinLeaveGroups.room.*',
        'webpubsub.joinLeaveGroup.room.1',
        'webpubsub.sendToGroup.room.1',
      ],
    });
    const exp = (
      JSON.parse(Buffer.from(lastIssued.split('.')[1]!, 'base64url').toString()) as { exp: number }
    ).exp;
    expect(body.expiresOn).toBe(new Date(exp * 1000).toISOString());

    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.method).toBe('POST');
    expect(call.path).toBe('/api/hubs/chat/:generateToken');
    expect(call.query.get('api-version')).toBe('2024-12-01');
    expect(call.query.get('userId')).toBe('alice');
    expect(call.query.getAll('role')).toEqual(body.roles);
    expect(call.query.getAll('group')).toEqual(['room.1']);
    expect(call.query.get('minutesToExpire')).toBe('60');
    expect(call.query.get('clientType')).toBeNull();
    expect(call.authorization).toBe('Bearer fake-entra-token');
    expect(credential.scopes).toEqual([['https://webpubsub.azure.com/.default']]);
  });

  it('mqtt: clientType=mqtt and the MQTT client path; the lifetime setting goes to minutesToExpire', async () => {
    const response = await negotiate(
      handlerWith(new FakeCredential(), { NegotiateTokenLifetimeMinutes: '5' }),
      '?protocol=mqtt',
    );
    expect(response.status).toBe(200);
    expect(json(response).baseUrl).toBe(`${endpoint.replace('https', 'wss')}/clients/mqtt/hubs/chat`);
    expect(calls[0]?.query.get('clientType')).toBe('mqtt');
    expect(calls[0]?.query.get('minutesToExpire')).toBe('5');
  });

  it('keeps one client per hub for the life of the handler (one credential request per hub)', async () => {
    const credential = new FakeCredential();
    const handler = handlerWith(credential);
    for (const user of ['alice', 'bob', 'carol']) {
      expect((await negotiate(handler, '', user)).status).toBe(200);
    }
    expect(credential.scopes).toHaveLength(1);
    expect((await negotiate(handler, '?hub=other')).status).toBe(200);
    expect(credential.scopes).toHaveLength(2);
    expect(calls.map((call) => call.path)).toEqual([
      '/api/hubs/chat/:generateToken',
      '/api/hubs/chat/:generateToken',
      '/api/hubs/chat/:generateToken',
      '/api/hubs/other/:generateToken',
    ]);
  });

  it('502 service-error when the service refuses (no role assignment), with the reason logged', async () => {
    answerStatus = 403;
    const log = captureLog();
    const handler = handlerWith(new FakeCredential());
    const response = await handler(
      coreRequest({
        method: 'GET',
        url: 'https://app.example/api/negotiate',
        headers: { authorization: `Bearer ${await issuer.token()}` },
      }),
      log,
    );
    expect(response.status).toBe(502);
    expect(json(response)).toMatchObject({
      status: 502,
      type: 'urn:webpubsub-functions:problem:service-error',
    });
    expect(JSON.stringify(log.lines)).toContain('did not issue a client token');
  });

  it('503 service-unavailable with Retry-After when the service cannot be reached', async () => {
    const config = settings({ WebPubSubEndpoint: 'https://127.0.0.1:1' });
    const clients = createServiceClients(config.service, {
      credential: new FakeCredential(),
      clientOptions: { tlsOptions: { ca: CA }, retryOptions: { maxRetries: 0 } },
    });
    const handler = buildNegotiateHandler(config, { serviceClients: clients, jwks: issuer.jwks });
    const response = await negotiate(handler, '');
    expect(response.status).toBe(503);
    expect(response.headers?.['retry-after']).toBe('5');
  });
});

describe('@azure/identity is loaded in keyless mode only', () => {
  it('key mode never loads it', async () => {
    const loadsBefore = mockIdentity.loads;
    const config = loadConfig({
      WebPubSubConnectionString: 'Endpoint=https://contoso.webpubsub.azure.com;AccessKey=k;Version=1.0;',
      NegotiateIdentity: 'anonymous',
    });
    const response = await buildNegotiateHandler(config)(
      coreRequest({ method: 'GET', url: 'https://app.example/api/negotiate', headers: {} }),
      captureLog(),
    );
    expect(response.status).toBe(200);
    expect(mockIdentity.loads).toBe(loadsBefore);
  });

  it('keyless mode without a given credential uses managed identity with AZURE_CLIENT_ID', async () => {
    const config = loadConfig({
      WebPubSubEndpoint: endpoint,
      AZURE_CLIENT_ID: '00000000-1111-2222-3333-444444444444',
      NegotiateIdentity: 'anonymous',
    });
    const handler = buildNegotiateHandler(config, {
      clientOptions: { tlsOptions: { ca: CA }, retryOptions: { maxRetries: 0 } },
    });
    expect(mockIdentity.loads).toBe(0);
    const response = await handler(
      coreRequest({ method: 'GET', url: 'https://app.example/api/negotiate', headers: {} }),
      captureLog(),
    );
    expect(response.status).toBe(200);
    expect(mockIdentity.loads).toBe(1);
    expect(mockIdentity.constructed).toEqual([{ clientId: '00000000-1111-2222-3333-444444444444' }]);
    expect(calls[0]?.authorization).toBe('Bearer managed-identity-token');
  });
});
