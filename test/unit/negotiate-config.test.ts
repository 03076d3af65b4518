import { ConfigError, loadConfig, loadNegotiateConfig, type Environment } from '../../src/config';

/** The negotiate settings: defaults, and an error naming the setting (never its value) for each mistake. */

function expectError(env: Environment, setting: string, fragment?: string): void {
  let caught: unknown;
  try {
    loadNegotiateConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.setting).toBe(setting);
  expect(error.status).toBe(500);
  if (fragment !== undefined) expect(error.message).toContain(fragment);
}

const BEARER: Environment = {
  NegotiateIdentity: 'bearer',
  NegotiateIssuer: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
  NegotiateAudience: 'api://chat',
};

describe('negotiate settings', () => {
  it('defaults: no identity (negotiate refuses), sub/roles claims, both group permissions, 60 minutes, no CORS', () => {
    expect(loadNegotiateConfig({})).toEqual({
      identity: [],
      bearer: undefined,
      userIdClaim: 'sub',
      roleClaim: 'roles',
      groupClaim: undefined,
      platformAuthEnabled: false,
      allowedGroups: [],
      roles: [],
      groupPermissions: ['joinLeaveGroup', 'sendToGroup'],
      allowHubWideRoles: false,
      tokenLifetimeMinutes: 60,
      corsOrigins: [],
    });
  });

  it('is part of the whole configuration, and its absence does not stop the rest of the app', () => {
    const config = loadConfig({
      WebPubSubConnectionString: 'Endpoint=https://a.webpubsub.azure.com;AccessKey=k;Version=1.0;',
    });
    expect(config.negotiate.identity).toEqual([]);
  });

  it('bearer: issuers and audiences (comma-separated), JWKS from discovery unless given', () => {
    const config = loadNegotiateConfig({
      ...BEARER,
      NegotiateIssuer: `${BEARER.NegotiateIssuer ?? ''}, https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/`,
      NegotiateAudience: 'api://chat,00000000-aaaa-bbbb-cccc-000000000000',
    });
    expect(config.bearer).toEqual({
      issuers: [
        'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
        'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/',
      ],
      audiences: ['api://chat', '00000000-aaaa-bbbb-cccc-000000000000'],
      jwksUri: undefined,
    });
    expect(
      loadNegotiateConfig({ ...BEARER, NegotiateJwksUri: 'https://login.example.com/keys' }).bearer?.jwksUri,
    ).toEqual(new URL('https://login.example.com/keys'));
  });

  it('bearer without issuer or audience loads (negotiate names them when it is built)', () => {
    expect(loadNegotiateConfig({ NegotiateIdentity: 'bearer' }).bearer).toEqual({
      issuers: [],
      audiences: [],
      jwksUri: undefined,
    });
  });

  it('identity modes in order, any case', () => {
    expect(
      loadNegotiateConfig({ ...BEARER, NegotiateIdentity: 'AppService, Bearer ,anonymous' }).identity,
    ).toEqual(['appservice', 'bearer', 'anonymous']);
  });

  it('WEBSITE_AUTH_ENABLED=True (any case) means the platform authenticates', () => {
    expect(loadNegotiateConfig({ WEBSITE_AUTH_ENABLED: 'True' }).platformAuthEnabled).toBe(true);
    expect(loadNegotiateConfig({ WEBSITE_AUTH_ENABLED: 'true' }).platformAuthEnabled).toBe(true);
    expect(loadNegotiateConfig({ WEBSITE_AUTH_ENABLED: 'False' }).platformAuthEnabled).toBe(false);
    expect(loadNegotiateConfig({ WEBSITE_AUTH_ENABLED: '1' }).platformAuthEnabled).toBe(false);
  });

  it('claims, groups, roles, permissions, lifetime and CORS origins', () => {
    const config = loadNegotiateConfig({
      NegotiateUserIdClaim: 'oid',
      NegotiateRoleClaim: 'realm_access.roles',
      NegotiateGroupClaim: 'groups',
      NegotiateAllowedGroups: 'lobby, room.*,user.{userId}',
      NegotiateRoles: 'webpubsub.sendToGroups.room.*,webpubsub.joinLeaveGroup.user.{userId}',
      NegotiateGroupPermissions: 'sendtogroup',
      NegotiateTokenLifetimeMinutes: '15',
      CorsAllowedOrigins: 'https://chat.contoso.com, http://localhost:5173',
    });
    expect(config).toMatchObject({
      userIdClaim: 'oid',
      roleClaim: 'realm_access.roles',
      groupClaim: 'groups',
      allowedGroups: ['lobby', 'room.*', 'user.{userId}'],
      roles: ['webpubsub.sendToGroups.room.*', 'webpubsub.joinLeaveGroup.user.{userId}'],
      groupPermissions: ['sendToGroup'],
      tokenLifetimeMinutes: 15,
      corsOrigins: ['https://chat.contoso.com', 'http://localhost:5173'],
    });
    expect(loadNegotiateConfig({ NegotiateGroupPermissions: 'none' }).groupPermissions).toEqual([]);
    expect(loadNegotiateConfig({ CorsAllowedOrigins: '*' }).corsOrigins).toEqual(['*']);
  });

  it('hub-wide roles only with NegotiateAllowHubWideRoles=true', () => {
    expectError({ NegotiateRoles: 'webpubsub.sendToGroup' }, 'NegotiateRoles', 'every group of the hub');
    expect(
      loadNegotiateConfig({ NegotiateRoles: 'webpubsub.sendToGroup', NegotiateAllowHubWideRoles: 'true' })
        .roles,
    ).toEqual(['webpubsub.sendToGroup']);
  });

  it.each<[string, Environment, string]>([
    ['an unknown identity mode', { NegotiateIdentity: 'bearer,oauth' }, 'NegotiateIdentity'],
    ['a mode twice', { NegotiateIdentity: 'bearer,bearer' }, 'NegotiateIdentity'],
    ['anonymous before another mode', { NegotiateIdentity: 'anonymous,bearer' }, 'NegotiateIdentity'],
    ['an issuer that is not a URL', { ...BEARER, NegotiateIssuer: 'contoso' }, 'NegotiateIssuer'],
    [
      'an http issuer beyond loopback',
      { ...BEARER, NegotiateIssuer: 'http://login.example.com' },
      'NegotiateIssuer',
    ],
    [
      'an http JWKS beyond loopback',
      { ...BEARER, NegotiateJwksUri: 'http://login.example.com/keys' },
      'NegotiateJwksUri',
    ],
    ['an invalid group pattern', { NegotiateAllowedGroups: 'room.\\x' }, 'NegotiateAllowedGroups'],
    ['a pattern with six stars', { NegotiateAllowedGroups: '*.*.*.*.*.*' }, 'NegotiateAllowedGroups'],
    [
      'a placeholder other than {userId}',
      { NegotiateAllowedGroups: 'user.{user}' },
      'NegotiateAllowedGroups',
    ],
    ['a role that is not a Web PubSub role', { NegotiateRoles: 'admin' }, 'NegotiateRoles'],
    ['a role with a bad placeholder', { NegotiateRoles: 'webpubsub.sendToGroup.{userid}' }, 'NegotiateRoles'],
    ['an unknown group permission', { NegotiateGroupPermissions: 'send' }, 'NegotiateGroupPermissions'],
    ['a lifetime of 0', { NegotiateTokenLifetimeMinutes: '0' }, 'NegotiateTokenLifetimeMinutes'],
    ['a lifetime over a day', { NegotiateTokenLifetimeMinutes: '1441' }, 'NegotiateTokenLifetimeMinutes'],
    ['a non-boolean flag', { NegotiateAllowHubWideRoles: 'yes' }, 'NegotiateAllowHubWideRoles'],
    ['* with other origins', { CorsAllowedOrigins: '*,https://a.example' }, 'CorsAllowedOrigins'],
    ['an origin with a path', { CorsAllowedOrigins: 'https://a.example/app' }, 'CorsAllowedOrigins'],
    ['an origin with a trailing slash', { CorsAllowedOrigins: 'https://a.example/' }, 'CorsAllowedOrigins'],
    ['an origin that is not a URL', { CorsAllowedOrigins: 'a.example' }, 'CorsAllowedOrigins'],
  ])('refuses %s', (_name, env, setting) => {
    expectError(env, setting);
  });

  it('an error names the setting but never echoes a secret-looking value in full', () => {
    let caught: unknown;
    try {
      loadNegotiateConfig({ NegotiateTokenLifetimeMinutes: 'secret-value' });
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).message).not.toContain('secret-value');
  });
});
