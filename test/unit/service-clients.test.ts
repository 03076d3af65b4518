import type { TokenCredential } from '@azure/identity';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { KeyObject } from 'node:crypto';
import { allowsInsecureConnection, createServiceClients } from '../../src/service/clients';
import { startServiceStandIn, type ServiceStandIn } from '../support/push-service-stand-in';

const keyConfig = {
  mode: 'key' as const,
  endpoint: new URL('https://contoso.webpubsub.azure.com'),
  accessKey: 'test-access-key',
};

describe('allowsInsecureConnection', () => {
  it.each([
    ['http://localhost:8080', true],
    ['http://127.0.0.1:8080', true],
    ['http://[::1]:8080', true],
    ['http://LOCALHOST:8080', true],
    ['https://localhost:8080', false],
    ['http://contoso.webpubsub.azure.com', false],
    ['http://10.0.0.4:8080', false],
    ['http://localhost.evil.example', false],
  ])('%s -> %s', (endpoint, expected) => {
    expect(allowsInsecureConnection(new URL(endpoint))).toBe(expected);
  });
});

describe('createServiceClients', () => {
  it('creates one client per hub, shared by hub names that differ only in case', async () => {
    const clients = createServiceClients(keyConfig);
    const first = await clients.forHub('chat');
    expect(first).toBeInstanceOf(WebPubSubServiceClient);
    expect(first.hubName).toBe('chat');
    expect(first.endpoint).toBe('https://contoso.webpubsub.azure.com');
    await expect(clients.forHub('Chat')).resolves.toBe(first);
    await expect(clients.forHub('other')).resolves.not.toBe(first);
  });

  it('signs client tokens with the configured key in key mode', async () => {
    const client = await createServiceClients(keyConfig).forHub('chat');
    const { token } = await client.getClientAccessToken({ userId: 'alice' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      aud: string;
      sub: string;
    };
    expect(claims).toMatchObject({
      aud: 'https://contoso.webpubsub.azure.com/client/hubs/chat',
      sub: 'alice',
    });
  });

  /** A key-mode client for hub `chat` against a stand-in that verifies every SDK token with jose. */
  async function withStandIn(
    accessKey: string | undefined,
    test: (client: WebPubSubServiceClient, standIn: ServiceStandIn) => Promise<void>,
  ): Promise<void> {
    const standIn = await startServiceStandIn();
    try {
      const clients = createServiceClients({
        mode: 'key',
        endpoint: new URL(standIn.endpoint),
        accessKey: accessKey ?? standIn.accessKey,
      });
      await test(await clients.forHub('chat'), standIn);
    } finally {
      await standIn.close();
    }
  }

  it('signs every REST call with the access key, handing jsonwebtoken a secret KeyObject (no PEM attempt)', () =>
    withStandIn(undefined, async (client, standIn) => {
      await client.sendToAll('one', { contentType: 'text/plain' });
      await client.sendToAll('two', { contentType: 'text/plain' });
      // The stand-in verifies each bearer token with jose: HS256 under the key's bytes, audience = URL.
      expect(standIn.requests.map((request) => request.authorized)).toEqual([true, true]);
      const { key } = (client as unknown as { credential: { key: unknown } }).credential;
      expect(key).toBeInstanceOf(KeyObject);
      expect((key as KeyObject).type).toBe('secret');
    }));

  it('signs with the new key after the credential is updated (key rotation through the SDK)', () =>
    withStandIn('the-key-before-rotation', async (client, standIn) => {
      const { credential } = client as unknown as { credential: { update(key: string): void } };
      await expect(client.sendToAll('before', { contentType: 'text/plain' })).rejects.toThrow(/Unauthorized/);
      credential.update(standIn.accessKey);
      await client.sendToAll('after', { contentType: 'text/plain' });
      expect(standIn.requests.map((request) => request.authorized)).toEqual([false, true]);
    }));

  it('uses the given credential in keyless mode and asks it for the service scope', async () => {
    const scopes: (string | string[])[] = [];
    const credential: TokenCredential = {
      getToken: (scope) => {
        scopes.push(scope);
        return Promise.resolve({ token: 'fake-entra-token', expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
    const clients = createServiceClients(
      {
        mode: 'keyless',
        endpoint: new URL('https://contoso.webpubsub.azure.com'),
        managedIdentityClientId: undefined,
      },
      // No retries: the unreachable host must fail fast, after the credential was asked.
      { credential, clientOptions: { retryOptions: { maxRetries: 0 } } },
    );
    expect(clients.mode).toBe('keyless');
    const client = await clients.forHub('chat');
    await expect(client.getClientAccessToken({ userId: 'alice' })).rejects.toThrow();
    expect(scopes.flat()).toContain('https://webpubsub.azure.com/.default');
  });
});
