import {
  createEmulator,
  DEFAULT_ACCESS_KEY,
  EmulatorConfigError,
  type EmulatorOptions,
} from '../../emulator';
import { formatBanner, optionsFromArgs } from '../../emulator/cli';
import { resolveUrlTemplate } from '../../emulator/upstream/dispatcher';
import { allEvents, serviceClient, startEmulator, TEST_KEY } from './helpers';

/**
 * Startup, configuration and the banner (catalogue 8.1, EmulatorApplicationTests, EmulatorOptionsValidation
 * Tests, StartupMessageWriterTests). An invalid configuration must fail before anything listens.
 */

async function startupError(options: EmulatorOptions): Promise<string> {
  try {
    const emulator = await createEmulator({ port: 0, host: '127.0.0.1', ...options });
    await emulator.close();
  } catch (error) {
    expect(error).toBeInstanceOf(EmulatorConfigError);
    return (error as Error).message;
  }
  throw new Error('the emulator started');
}

describe('EmulatorApplicationTests', () => {
  it('EmulatorApplicationTests.EffectiveEndpointComesFromBoundAddress', async () => {
    const emulator = await startEmulator({ accessKey: TEST_KEY });
    try {
      expect(emulator.port).toBeGreaterThan(0);
      expect(emulator.connectionString).toBe(
        `Endpoint=http://localhost:${emulator.port};AccessKey=${TEST_KEY};Version=1.0;`,
      );
      // The official SDK reads the same endpoint and key out of it.
      expect(serviceClient(emulator, 'chat').endpoint).toBe(`http://localhost:${emulator.port}/`);
      expect(emulator.clientEndpoint).toBe(`ws://localhost:${emulator.port}/client/hubs/{hub}`);
      expect(emulator.healthUrl).toBe(`http://localhost:${emulator.port}/api/health`);
      expect(await serviceClient(emulator, 'chat').connectionExists('none')).toBe(false);
    } finally {
      await emulator.close();
    }
  });

  it('uses the documented default access key when none is given', async () => {
    const emulator = await createEmulator({ port: 0, host: '127.0.0.1' });
    try {
      expect(DEFAULT_ACCESS_KEY).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH');
      expect(emulator.connectionString).toContain(`;AccessKey=${DEFAULT_ACCESS_KEY};`);
    } finally {
      await emulator.close();
    }
  });

  it('EmulatorApplicationTests.InvalidAccessKeyConfigurationIsRejected', async () => {
    expect(await startupError({ accessKey: 'short' })).toMatch(/^accessKey must be at least 32 bytes/);
    expect(await startupError({ accessKey: `${TEST_KEY};x` })).toMatch(/^accessKey must not contain ';'/);
    expect(await startupError({ accessKey: ` ${TEST_KEY}` })).toMatch(/whitespace/);
    expect(await startupError({ accessKey: `${TEST_KEY}\u0001` })).toMatch(/control characters/);
    expect(await startupError({ secondaryAccessKey: 'short' })).toMatch(
      /^secondaryAccessKey must be at least/,
    );
  });

  it('EmulatorApplicationTests.InvalidEventConfigurationIsRejected', async () => {
    expect(await startupError({ hubs: { chat: { eventHandlers: [{ urlTemplate: 'not a url' }] } } })).toMatch(
      /hubs\.chat\.eventHandlers\[0\]\.urlTemplate must be an absolute http/,
    );
    const withAuth = { urlTemplate: 'http://x/e', auth: { type: 'ManagedIdentity' } };
    expect(await startupError({ hubs: { chat: { eventHandlers: [withAuth] } } })).toMatch(
      /eventHandlers\[0\]\.auth is not supported/,
    );
  });

  it('EmulatorApplicationTests.EventHandlerUrlTemplateResolvesRuntimeParameters', () => {
    const template = 'http://h/api/{HUB}/{event}/{other}/{@Microsoft.KeyVault(x)}';
    expect(resolveUrlTemplate(template, 'tenant/chat', 'my event')).toBe(
      'http://h/api/tenant%2Fchat/my%20event/{other}/{@Microsoft.KeyVault(x)}',
    );
    expect(resolveUrlTemplate('http://h/{Event}?hub={hub}', 'chat', 'validate')).toBe(
      'http://h/validate?hub=chat',
    );
  });

  it('EmulatorApplicationTests.ServiceHealthEndpoint_WithoutApiVersionFallsBackToLatest', async () => {
    const emulator = await startEmulator();
    try {
      const head = await fetch(emulator.healthUrl, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('api-supported-versions')).toBe(
        '2021-10-01, 2022-11-01, 2023-07-01, 2024-01-01, 2024-12-01',
      );
      expect((await fetch(`${emulator.healthUrl}?api-version=2024-12-01`, { method: 'HEAD' })).status).toBe(
        200,
      );
    } finally {
      await emulator.close();
    }
  });
});

describe('EmulatorOptionsValidationTests', () => {
  it('EmulatorOptionsValidationTests: a non-positive event handler timeout fails startup', async () => {
    expect(await startupError({ eventHandlerTimeoutMs: 0 })).toBe(
      'eventHandlerTimeoutMs must be a positive integer',
    );
  });

  it('EmulatorOptionsValidationTests: an empty, relative or ftp handler URL fails startup', async () => {
    for (const urlTemplate of ['', '/api/events', 'ftp://host/events']) {
      expect(await startupError({ hubs: { chat: { eventHandlers: [{ urlTemplate }] } } })).toMatch(
        /urlTemplate (is required|must be an absolute http)/,
      );
    }
  });

  it('EmulatorOptionsValidationTests: tunnel and Key Vault URLs, host placeholders and unknown options fail', async () => {
    const handler = (urlTemplate: string): EmulatorOptions => ({
      hubs: { chat: { eventHandlers: [{ urlTemplate }] } },
    });
    expect(await startupError(handler('tunnel:///api/events'))).toMatch(/tunnel/);
    expect(await startupError(handler('http://{@Microsoft.KeyVault(SecretUri=x)}/e'))).toMatch(/Key Vault/);
    expect(await startupError(handler('http://{hub}.example.com/e'))).toMatch(/not allowed in the host/);
    expect(await startupError({ colour: 'blue' } as never)).toBe('options.colour is not a known option');
    expect(
      await startupError({
        hubs: { chat: { eventHandlers: [{ urlTemplate: 'http://h/e', systemEvents: ['connecting'] }] } },
      }),
    ).toMatch(/"connecting" is not one of connect, connected, disconnected/);
    expect(
      await startupError({
        hubs: { chat: { eventHandlers: [{ urlTemplate: 'http://h/e', userEventPattern: 'room.*' }] } },
      }),
    ).toMatch(/"room\.\*" is neither \* nor a valid event name/);
    expect(await startupError({ hubs: { '1chat': allEvents('http://h/e') } })).toMatch(
      /not a valid hub name/,
    );
    expect(
      await startupError({ hubs: { Chat: allEvents('http://h/e'), chat: allEvents('http://h/e') } }),
    ).toMatch(/configured twice/);
  });

  it('a port that is taken fails startup loudly', async () => {
    const first = await startEmulator();
    try {
      await expect(createEmulator({ port: first.port, host: '127.0.0.1' })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    } finally {
      await first.close();
    }
  });
});

describe('StartupMessageWriterTests', () => {
  it('StartupMessageWriterTests: the banner shows the connection string, client endpoint and health URL', async () => {
    const emulator = await startEmulator();
    try {
      const banner = formatBanner(emulator, {
        accessKey: TEST_KEY,
        hubs: { chat: allEvents('http://h/api/{event}?code=secret') },
      });
      expect(banner).toContain(`Connection string: ${emulator.connectionString}`);
      expect(banner).toContain(`Client endpoint:   ws://localhost:${emulator.port}/client/hubs/{hub}`);
      expect(banner).toContain(`Health:            http://localhost:${emulator.port}/api/health`);
      expect(banner).toContain('hub chat -> http://h/api/{event}?…');
      // Handler URLs may carry function keys: the query never reaches the banner.
      expect(banner).not.toContain('secret');
    } finally {
      await emulator.close();
    }
  });

  it('StartupMessageWriterTests: a wildcard bind is shown as localhost with a reachability hint', async () => {
    const emulator = await createEmulator({ port: 0, host: '0.0.0.0' });
    try {
      expect(emulator.endpoint).toBe(`http://localhost:${emulator.port}`);
      expect(formatBanner(emulator, { host: '0.0.0.0' })).toContain('other machines use this host');
    } finally {
      await emulator.close();
    }
  });

  it('npm run emulator flags: --port, --access-key, --upstream [hub=]url and --config', () => {
    expect(
      optionsFromArgs(['--port', '0', '--access-key', TEST_KEY, '--upstream', 'chat=http://h/e?code=a=b']),
    ).toEqual({
      port: 0,
      accessKey: TEST_KEY,
      hubs: {
        chat: {
          eventHandlers: [
            {
              urlTemplate: 'http://h/e?code=a=b',
              systemEvents: ['connect', 'connected', 'disconnected'],
              userEventPattern: '*',
            },
          ],
        },
      },
    });
    expect(optionsFromArgs(['--upstream', 'http://h/{hub}/{event}'])?.hubs).toEqual({
      '*': allEvents('http://h/{hub}/{event}'),
    });
    expect(optionsFromArgs(['--help'])).toBeUndefined();
    expect(() => optionsFromArgs(['--port', 'eighty'])).toThrow('--port must be 0-65535, not "eighty"');
    expect(() => optionsFromArgs(['--colour'])).toThrow(/Unknown option '--colour'/);
  });
});
