import { ConfigError, loadConfig, loadPushConfig } from '../../src/config';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadPushConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('push settings', () => {
  it('defaults: function key only, roles Messages.Send and Groups.Manage, a 3 s budget', () => {
    expect(loadPushConfig({})).toEqual({
      bearer: undefined,
      sendRole: 'Messages.Send',
      manageRole: 'Groups.Manage',
      roleClaim: 'roles',
      serviceTimeoutMs: 3000,
    });
  });

  it('is part of the whole configuration', () => {
    const config = loadConfig({
      WebPubSubConnectionString: 'Endpoint=https://res.webpubsub.azure.com;AccessKey=k;Version=1.0;',
      PushApiServiceTimeoutMs: '1500',
    });
    expect(config.push.serviceTimeoutMs).toBe(1500);
  });

  it('derives Entra issuers (v1 and v2) and the JWKS from the tenant', () => {
    expect(loadPushConfig({ PushApiAudience: 'api://push', PushApiTenantId: TENANT }).bearer).toEqual({
      audience: 'api://push',
      issuers: [`https://login.microsoftonline.com/${TENANT}/v2.0`, `https://sts.windows.net/${TENANT}/`],
      jwksUri: new URL(`https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`),
    });
  });

  it('takes any OIDC issuer with explicit issuers and JWKS', () => {
    const bearer = loadPushConfig({
      PushApiAudience: 'push-api',
      PushApiIssuers: 'https://idp.example.com/realms/a, https://idp.example.com/realms/b',
      PushApiJwksUri: 'https://idp.example.com/realms/a/protocol/openid-connect/certs',
      PushApiRoleClaim: 'realm_access.roles',
      PushApiSendRole: 'push.send',
      PushApiManageRole: 'push.manage',
    });
    expect(bearer.bearer?.issuers).toEqual([
      'https://idp.example.com/realms/a',
      'https://idp.example.com/realms/b',
    ]);
    expect([bearer.roleClaim, bearer.sendRole, bearer.manageRole]).toEqual([
      'realm_access.roles',
      'push.send',
      'push.manage',
    ]);
  });

  it.each([
    [{ PushApiTenantId: TENANT }, 'PushApiAudience'],
    [{ PushApiJwksUri: 'https://idp.example.com/keys' }, 'PushApiAudience'],
    [{ PushApiAudience: 'api://push' }, 'PushApiIssuers'],
    [{ PushApiAudience: 'api://push', PushApiIssuers: 'https://idp.example.com' }, 'PushApiJwksUri'],
    [
      {
        PushApiAudience: 'a',
        PushApiIssuers: 'https://idp.example.com',
        PushApiJwksUri: 'http://idp.example.com/k',
      },
      'PushApiJwksUri',
    ],
    [{ PushApiAudience: 'a', PushApiTenantId: 'not a tenant!' }, 'PushApiTenantId'],
    [{ PushApiSendRole: 'two roles' }, 'PushApiSendRole'],
    [{ PushApiManageRole: 'a,b' }, 'PushApiManageRole'],
    [{ PushApiServiceTimeoutMs: '499' }, 'PushApiServiceTimeoutMs'],
    [{ PushApiServiceTimeoutMs: '30001' }, 'PushApiServiceTimeoutMs'],
    [{ PushApiServiceTimeoutMs: '3s' }, 'PushApiServiceTimeoutMs'],
  ])('refuses %j, naming %s', (env, setting) => {
    expect(configError(env).setting).toBe(setting);
  });

  it('accepts a JWKS over http on loopback only (tests, local issuers)', () => {
    const env = { PushApiAudience: 'a', PushApiIssuers: 'https://idp.example.com' };
    expect(
      loadPushConfig({ ...env, PushApiJwksUri: 'http://127.0.0.1:9999/keys' }).bearer?.jwksUri.href,
    ).toBe('http://127.0.0.1:9999/keys');
  });

  it('never puts a value in its error message', () => {
    expect(configError({ PushApiServiceTimeoutMs: 'secret-ish-123' }).message).not.toContain(
      'secret-ish-123',
    );
  });
});
