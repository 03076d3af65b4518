import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { jwtVerify } from 'jose';
import { ConfigError, loadConfig, type Environment } from '../../src/config';
import { problemResponse } from '../../src/http/problem';

/**
 * loadConfig is pure (it takes the environment as an argument), so every case builds its own environment.
 * The connection-string cases use @azure/web-pubsub, the client the backend talks to the service with, as
 * the oracle: what it makes of a connection string is what ours must make of it.
 */

const SECRET = 'S3cretAccessKey+/Z9pQ==';
const CS = `Endpoint=https://myresource.webpubsub.azure.com;AccessKey=${SECRET};Version=1.0;`;
const CLIENT_ID = '00000000-1111-2222-3333-444444444444';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

function configError(env: Environment): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

function expectConfigError(env: Environment, setting: string): ConfigError {
  const error = configError(env);
  expect(error.setting).toBe(setting);
  expect(error.message).toContain(setting);
  expect(error.status).toBe(500);
  expect(error.code).toBe('misconfigured');
  return error;
}

function keyEnv(extra: Record<string, string | undefined> = {}): Environment {
  return { WebPubSubConnectionString: CS, ...extra };
}

describe('service mode', () => {
  it('key mode: endpoint and access key from the connection string', () => {
    const config = loadConfig(keyEnv());
    expect(config.service).toEqual({
      mode: 'key',
      endpoint: new URL('https://myresource.webpubsub.azure.com/'),
      accessKey: SECRET,
    });
    expect(config.signatureKeys).toEqual([SECRET]);
    expect(config.webhookOrigins).toEqual(['myresource.webpubsub.azure.com']);
  });

  it('keyless mode: WebPubSubEndpoint with the user-assigned identity of AZURE_CLIENT_ID', () => {
    const config = loadConfig({
      WebPubSubEndpoint: 'https://myresource.webpubsub.azure.com',
      AZURE_CLIENT_ID: CLIENT_ID,
    });
    expect(config.service).toEqual({
      mode: 'keyless',
      endpoint: new URL('https://myresource.webpubsub.azure.com'),
      managedIdentityClientId: CLIENT_ID,
    });
    expect(config.signatureKeys).toEqual([]);
    expect(config.webhookOrigins).toEqual(['myresource.webpubsub.azure.com']);
  });

  it('keyless mode without AZURE_CLIENT_ID uses the system-assigned identity', () => {
    const config = loadConfig({ WebPubSubEndpoint: 'https://myresource.webpubsub.azure.com' });
    expect(config.service).toMatchObject({ mode: 'keyless', managedIdentityClientId: undefined });
  });

  it('treats blank settings as unset', () => {
    const config = loadConfig({ ...keyEnv(), WebPubSubEndpoint: '   ', AZURE_CLIENT_ID: '' });
    expect(config.service.mode).toBe('key');
  });

  it('refuses both modes at once, naming the settings', () => {
    const error = expectConfigError(
      keyEnv({ WebPubSubEndpoint: 'https://myresource.webpubsub.azure.com' }),
      'WebPubSubConnectionString',
    );
    expect(error.message).toContain('WebPubSubEndpoint');
  });

  it('refuses neither mode, naming both settings', () => {
    const error = expectConfigError({ AZURE_CLIENT_ID: CLIENT_ID }, 'WebPubSubConnectionString');
    expect(error.message).toContain('WebPubSubEndpoint');
  });

  it.each([
    ['without scheme', 'myresource.webpubsub.azure.com'],
    ['with another scheme', 'ftp://myresource.webpubsub.azure.com'],
    ['that is not a URL', 'https://'],
  ])('refuses a keyless endpoint %s', (_name, endpoint) => {
    expectConfigError({ WebPubSubEndpoint: endpoint }, 'WebPubSubEndpoint');
  });
});

describe('connection string, parsed as @azure/web-pubsub parses it', () => {
  const cases: [string, string][] = [
    ['the documented form', CS],
    [
      'keys in lower case',
      `endpoint=https://myresource.webpubsub.azure.com;accesskey=${SECRET};version=1.0;`,
    ],
    ['keys in upper case', `ENDPOINT=https://myresource.webpubsub.azure.com;ACCESSKEY=${SECRET};VERSION=1.0`],
    [
      'keys in another order, no Version',
      `AccessKey=${SECRET};Endpoint=https://myresource.webpubsub.azure.com`,
    ],
    [
      'an access key containing "="',
      'Endpoint=https://myresource.webpubsub.azure.com;AccessKey=a=b==;Version=1.0;',
    ],
    [
      'an endpoint without scheme (https)',
      `Endpoint=myresource.webpubsub.azure.com;AccessKey=${SECRET};Version=1.0;`,
    ],
    ['an http endpoint with Port', 'Endpoint=http://localhost;AccessKey=emulator;Port=8080;Version=1.0;'],
    [
      'an http endpoint with its port in the URL',
      'Endpoint=http://localhost:8080;AccessKey=emulator;Version=1.0;',
    ],
    ['Port that overrides the URL port', 'Endpoint=http://localhost:1234;AccessKey=emulator;Port=8080;'],
    [
      'Port that is the scheme default',
      `Endpoint=https://myresource.webpubsub.azure.com;AccessKey=${SECRET};Port=443;`,
    ],
    [
      'a host in capitals and a custom port',
      `Endpoint=https://MyResource.WebPubSub.Azure.com;AccessKey=${SECRET};Port=8443;`,
    ],
    ['a trailing slash', `Endpoint=https://myresource.webpubsub.azure.com/;AccessKey=${SECRET};`],
    [
      'a repeated key (the last one wins)',
      'Endpoint=https://one.example;Endpoint=https://two.example;AccessKey=first;AccessKey=second;',
    ],
    ['segments without "="', `Endpoint=https://myresource.webpubsub.azure.com;;junk;AccessKey=${SECRET};`],
  ];

  it.each(cases)('%s', async (_name, connectionString) => {
    const config = loadConfig({ WebPubSubConnectionString: connectionString });
    if (config.service.mode !== 'key') throw new Error('expected key mode');
    const client = new WebPubSubServiceClient(connectionString, 'hub', { allowInsecureConnection: true });
    expect(config.service.endpoint.href).toBe(client.endpoint);

    // The SDK signs client tokens with the key it parsed; ours must verify them.
    const { token } = await client.getClientAccessToken({ userId: 'user1' });
    const verified = await jwtVerify(token, new TextEncoder().encode(config.service.accessKey));
    expect(verified.payload.sub).toBe('user1');
    // And the webhook accepts ce-signature computed with that same key.
    expect(config.signatureKeys[0]).toBe(config.service.accessKey);
    expect(config.webhookOrigins[0]).toBe(new URL(client.endpoint).hostname);
  });

  it.each([
    ['no Endpoint', `AccessKey=${SECRET};Version=1.0;`, 'connection string missing endpoint'],
    [
      'no AccessKey',
      'Endpoint=https://myresource.webpubsub.azure.com;Version=1.0;',
      'connection string missing access key',
    ],
    [
      'an empty AccessKey',
      'Endpoint=https://myresource.webpubsub.azure.com;AccessKey=;',
      'connection string missing access key',
    ],
    ['an endpoint that is not a URL', `Endpoint=http//myresource;AccessKey=${SECRET};`, 'Invalid URL'],
  ])('refuses %s, as the SDK does', (_name, connectionString, sdkMessage) => {
    expect(() => new WebPubSubServiceClient(connectionString, 'hub')).toThrow(sdkMessage);
    expectConfigError({ WebPubSubConnectionString: connectionString }, 'WebPubSubConnectionString');
  });

  // Stricter than the SDK on purpose: it silently ignores (abc, 70000, -1) or truncates (80a -> 80) such a Port.
  it.each([['abc'], ['70000'], ['-1'], ['80a']])('refuses Port=%s (the SDK would not notice)', (port) => {
    expectConfigError(
      {
        WebPubSubConnectionString: `Endpoint=https://myresource.webpubsub.azure.com;AccessKey=${SECRET};Port=${port};`,
      },
      'WebPubSubConnectionString',
    );
  });
});

describe('hubs', () => {
  it('defaults to the single hub "chat"', () => {
    const config = loadConfig(keyEnv());
    expect(config.defaultHub).toBe('chat');
    expect(config.hubs).toEqual(['chat']);
  });

  it('serves the default hub first, then the listed ones, without repeating the default', () => {
    const config = loadConfig(keyEnv({ WebPubSubHub: 'Lobby', WebPubSubHubs: ' game ,lobby,, chat_2 ' }));
    expect(config.defaultHub).toBe('Lobby');
    expect(config.hubs).toEqual(['Lobby', 'game', 'chat_2']);
  });

  it('lists a hub once however its case repeats in WebPubSubHubs', () => {
    expect(loadConfig(keyEnv({ WebPubSubHubs: 'game,GAME,Game,other' })).hubs).toEqual([
      'chat',
      'game',
      'other',
    ]);
  });

  it.each([['1chat'], ['chat-room'], ['chat room'], ['a'.repeat(129)], ['_hub']])(
    'refuses WebPubSubHub %j',
    (hub) => {
      expectConfigError(keyEnv({ WebPubSubHub: hub }), 'WebPubSubHub');
    },
  );

  it.each([['game,1chat'], ['game,chat-room'], ['ok,a/b']])('refuses WebPubSubHubs %j', (hubs) => {
    const error = expectConfigError(keyEnv({ WebPubSubHubs: hubs }), 'WebPubSubHubs');
    expect(error.message).toContain(hubs.split(',')[1]!);
  });
});

describe('extra keys and origins', () => {
  it('adds WebPubSubAccessKeys after the connection string key (rotation)', () => {
    const config = loadConfig(keyEnv({ WebPubSubAccessKeys: ' next-key , older-key,' }));
    expect(config.signatureKeys).toEqual([SECRET, 'next-key', 'older-key']);
  });

  it('in keyless mode the signature keys are the extra keys alone', () => {
    const config = loadConfig({
      WebPubSubEndpoint: 'https://myresource.webpubsub.azure.com',
      WebPubSubAccessKeys: 'k1,k2',
    });
    expect(config.signatureKeys).toEqual(['k1', 'k2']);
  });

  it('allows the endpoint host plus WebPubSubAllowedOrigins', () => {
    const config = loadConfig(
      keyEnv({ WebPubSubAllowedOrigins: 'other.webpubsub.azure.com, https://third.webpubsub.azure.cn' }),
    );
    expect(config.webhookOrigins).toEqual([
      'myresource.webpubsub.azure.com',
      'other.webpubsub.azure.com',
      'https://third.webpubsub.azure.cn',
    ]);
  });

  it('allows any origin only when told "*"', () => {
    expect(loadConfig(keyEnv({ WebPubSubAllowedOrigins: '*' })).webhookOrigins).toEqual([
      'myresource.webpubsub.azure.com',
      '*',
    ]);
  });
});

describe('event-handler identity (managed-identity auth on the webhook)', () => {
  it('is off by default', () => {
    expect(loadConfig(keyEnv()).eventHandlerIdentity).toBeUndefined();
  });

  it('the tenant shortcut gives both Entra issuers (v2 and v1) and the tenant JWKS', () => {
    const config = loadConfig(
      keyEnv({ WebPubSubEventHandlerAudience: 'api://my-webhook', WebPubSubEventHandlerTenantId: TENANT }),
    );
    // https://learn.microsoft.com/entra/identity-platform/access-tokens (issuer of v2.0 and v1.0 tokens)
    // and the tenant's OpenID configuration (jwks_uri).
    expect(config.eventHandlerIdentity).toEqual({
      audience: 'api://my-webhook',
      issuers: [
        'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
        'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/',
      ],
      jwksUri: new URL(
        'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/v2.0/keys',
      ),
    });
  });

  it('explicit issuers and JWKS URI win over the tenant shortcut', () => {
    const config = loadConfig(
      keyEnv({
        WebPubSubEventHandlerAudience: 'aud',
        WebPubSubEventHandlerTenantId: TENANT,
        WebPubSubEventHandlerIssuers: 'https://issuer.one/, https://issuer.two/',
        WebPubSubEventHandlerJwksUri: 'http://127.0.0.1:9999/keys',
      }),
    );
    expect(config.eventHandlerIdentity).toEqual({
      audience: 'aud',
      issuers: ['https://issuer.one/', 'https://issuer.two/'],
      jwksUri: new URL('http://127.0.0.1:9999/keys'),
    });
  });

  it('works without a tenant when issuers and JWKS URI are given', () => {
    const config = loadConfig(
      keyEnv({
        WebPubSubEventHandlerAudience: 'aud',
        WebPubSubEventHandlerIssuers: 'https://issuer.one/',
        WebPubSubEventHandlerJwksUri: 'https://issuer.one/keys',
      }),
    );
    expect(config.eventHandlerIdentity?.jwksUri.href).toBe('https://issuer.one/keys');
  });

  it.each<[string, Record<string, string>, string]>([
    [
      'audience without issuer or tenant',
      { WebPubSubEventHandlerAudience: 'aud' },
      'WebPubSubEventHandlerIssuers',
    ],
    [
      'issuers without audience',
      { WebPubSubEventHandlerIssuers: 'https://issuer.one/' },
      'WebPubSubEventHandlerAudience',
    ],
    ['tenant without audience', { WebPubSubEventHandlerTenantId: TENANT }, 'WebPubSubEventHandlerAudience'],
    [
      'JWKS URI without audience',
      { WebPubSubEventHandlerJwksUri: 'https://issuer.one/keys' },
      'WebPubSubEventHandlerAudience',
    ],
    [
      'issuers without JWKS URI or tenant',
      { WebPubSubEventHandlerAudience: 'aud', WebPubSubEventHandlerIssuers: 'https://issuer.one/' },
      'WebPubSubEventHandlerJwksUri',
    ],
    [
      'a tenant that is neither an id nor a domain',
      { WebPubSubEventHandlerAudience: 'aud', WebPubSubEventHandlerTenantId: 'contoso/../evil' },
      'WebPubSubEventHandlerTenantId',
    ],
    [
      'a JWKS URI that is not http(s)',
      {
        WebPubSubEventHandlerAudience: 'aud',
        WebPubSubEventHandlerIssuers: 'https://issuer.one/',
        WebPubSubEventHandlerJwksUri: 'file:///etc/keys.json',
      },
      'WebPubSubEventHandlerJwksUri',
    ],
  ])('refuses %s', (_name, settings, setting) => {
    expectConfigError(keyEnv(settings), setting);
  });
});

describe('numeric limits', () => {
  it('defaults to 1 MiB per event and 4 KiB of connection state', () => {
    const config = loadConfig(keyEnv());
    expect(config.maxEventBytes).toBe(1048576);
    expect(config.maxStateBytes).toBe(4096);
  });

  it('accepts the bounds', () => {
    expect(loadConfig(keyEnv({ WebPubSubMaxEventBytes: '1', WebPubSubMaxStateBytes: '1' }))).toMatchObject({
      maxEventBytes: 1,
      maxStateBytes: 1,
    });
    expect(
      loadConfig(keyEnv({ WebPubSubMaxEventBytes: ' 16777216 ', WebPubSubMaxStateBytes: '65536' })),
    ).toMatchObject({ maxEventBytes: 16777216, maxStateBytes: 65536 });
  });

  it.each([
    ['WebPubSubMaxEventBytes', '0'],
    ['WebPubSubMaxEventBytes', '16777217'],
    ['WebPubSubMaxEventBytes', '-1'],
    ['WebPubSubMaxEventBytes', '1.5'],
    ['WebPubSubMaxEventBytes', '1e6'],
    ['WebPubSubMaxEventBytes', '0x100'],
    ['WebPubSubMaxEventBytes', '1MB'],
    ['WebPubSubMaxStateBytes', '0'],
    ['WebPubSubMaxStateBytes', '65537'],
    ['WebPubSubMaxStateBytes', 'four'],
    ['WebPubSubMaxStateBytes', '99999999999999999999999'],
  ])('refuses %s=%s', (setting, value) => {
    expectConfigError(keyEnv({ [setting]: value }), setting);
  });
});

describe('ConfigError never carries a secret', () => {
  it.each<[string, Environment]>([
    ['both modes', keyEnv({ WebPubSubEndpoint: 'https://myresource.webpubsub.azure.com' })],
    ['no endpoint', { WebPubSubConnectionString: `AccessKey=${SECRET};` }],
    ['a bad endpoint', { WebPubSubConnectionString: `Endpoint=http//${SECRET};AccessKey=${SECRET};` }],
    ['a bad port', { WebPubSubConnectionString: `${CS}Port=${SECRET};` }],
    ['a bad hub', keyEnv({ WebPubSubHub: '9' })],
    ['a bad limit', keyEnv({ WebPubSubMaxStateBytes: '0' })],
    ['a bad identity', keyEnv({ WebPubSubEventHandlerAudience: 'aud' })],
    ['a bad extra key setting', keyEnv({ WebPubSubAccessKeys: SECRET, WebPubSubHubs: '-' })],
  ])('%s', (_name, env) => {
    const error = configError(env);
    const response = problemResponse(error);
    for (const text of [
      error.message,
      error.detail,
      String(error.stack),
      JSON.stringify(error),
      String(response.body),
    ]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SECRET.slice(0, 12));
    }
  });
});
