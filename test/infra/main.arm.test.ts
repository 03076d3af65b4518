/**
 * infra/main.bicep compiled by the real Bicep compiler (the one `npm run check:infra` uses; without it these tests
 * fail with the reason, they never skip), then read as a deployment would be by test/infra/arm.ts. The expected
 * values come from outside the template: the routes the code registers, host.json, src/config.ts, the built-in role
 * IDs Azure documents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTemplate, resolveBicep } from '../../dev/bicep-compiler';
import { localHostInternals } from '../../dev/host/core-api';
import { loadConfig } from '../../src/config';
import {
  deploy,
  functionsCalled,
  parametersRead,
  parseResourceId,
  type DeployedResource,
  type Deployment,
  type DeploymentContext,
  type Json,
} from './arm';
// Loading the registration files registers their functions with the stand-in core module.
import '../../src/functions/webhook';
import '../../src/functions/negotiate';

const root = join(__dirname, '..', '..');

/** Built-in role definition IDs, as Azure documents them (learn.microsoft.com/azure/role-based-access-control/built-in-roles/...). */
const BUILT_IN_ROLES = {
  // .../web-and-mobile#web-pubsub-service-owner
  webPubSubServiceOwner: '12cf5a90-567b-43ae-8102-96cf46c7d9b4',
  // .../storage#storage-blob-data-owner
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  // .../monitor#monitoring-metrics-publisher
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  // .../security#key-vault-secrets-user
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
};

const KEY = 'q7Rk2LmV9xTz4NwB8cYd1HfJ6sPa3GeU5iOb0ZrXtKnMvWy';

const context: DeploymentContext = {
  subscriptionId: '6c1a9f0e-3b57-4d2e-9a8c-1f2e3d4c5b6a',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  location: 'swedencentral',
  deploymentName: 'demo-1732233600',
  utcNow: '20241122T000000Z',
  newGuid: '0f8fad5b-d9cb-469f-a165-70867728950e',
};

const required = { environmentName: 'demo', location: 'swedencentral', webhookFunctionKey: KEY };

let template: Record<string, unknown>;

beforeAll(async () => {
  const compiler = await resolveBicep({ env: process.env });
  template = (await buildTemplate(compiler, join(root, 'infra', 'main.bicep'))).template;
}, 300_000);

const deployWith = (parameters: Record<string, Json> = {}, ctx: DeploymentContext = context) =>
  deploy(template, { ...required, ...parameters }, ctx);

const ofType = (d: Deployment, type: string) =>
  d.resources().filter((r) => r.type.toLowerCase() === type.toLowerCase());

function only(d: Deployment, type: string): DeployedResource {
  const found = ofType(d, type);
  expect(found.map((r) => r.name)).toHaveLength(1);
  return found[0] as DeployedResource;
}

function appSettings(d: Deployment): Record<string, string> {
  const pairs = only(d, 'Microsoft.Web/sites').get('properties.siteConfig.appSettings') as {
    name: string;
    value: string;
  }[];
  const settings: Record<string, string> = {};
  for (const { name, value } of pairs) {
    expect(settings[name]).toBeUndefined();
    expect(typeof value).toBe('string');
    settings[name] = value;
  }
  return settings;
}

function httpTrigger(name: string) {
  const fn = localHostInternals.functions().find((entry) => entry.metadata.name === name);
  const trigger = Object.values(fn?.metadata.bindings ?? {}).find(
    (binding) => binding.type === 'httpTrigger',
  );
  if (trigger === undefined) throw new Error(`No HTTP function ${name} is registered`);
  return trigger as { route: string; authLevel: string; methods: string[] };
}

const routePrefix = (
  JSON.parse(readFileSync(join(root, 'host.json'), 'utf8')) as {
    extensions: { http: { routePrefix: string } };
  }
).extensions.http.routePrefix;

/** Every template in the compiled file: main and each module's, however deep. */
function templates(top: Record<string, unknown>): { path: string; template: Record<string, Json> }[] {
  const out: { path: string; template: Record<string, Json> }[] = [];
  const walk = (t: Record<string, Json>, path: string) => {
    out.push({ path, template: t });
    const resources = t.resources ?? [];
    const list = (
      Array.isArray(resources) ? resources : Object.values(resources as Record<string, Json>)
    ) as Record<string, Json>[];
    for (const r of list) {
      const nested = (r.properties as Record<string, Json> | undefined)?.template;
      if (nested !== undefined) walk(nested as Record<string, Json>, `${path}/${JSON.stringify(r.name)}`);
    }
  };
  walk(top as Record<string, Json>, 'main');
  return out;
}

const secureParameters = (t: Record<string, Json>) =>
  Object.entries((t.parameters ?? {}) as Record<string, { type: string }>)
    .filter(([, p]) => p.type.toLowerCase().startsWith('secure'))
    .map(([name]) => name);

describe('the Web PubSub event handler', () => {
  it('calls the webhook route the code registers, with the host function key the template creates as ?code=', () => {
    const webhook = httpTrigger('webpubsubEvents');
    expect(webhook.authLevel).toBe('function');
    const d = deployWith({ additionalHubs: ' notifications , alerts,' });
    const site = only(d, 'Microsoft.Web/sites');
    const service = only(d, 'Microsoft.SignalRService/webPubSub');

    const key = only(d, 'Microsoft.Web/sites/host/functionKeys');
    expect(key.name).toBe(`${site.name}/default/webpubsub`);
    expect(key.get('properties')).toEqual({ name: 'webpubsub', value: KEY });

    const hubs = ofType(d, 'Microsoft.SignalRService/webPubSub/hubs');
    expect(hubs.map((h) => h.name)).toEqual(
      ['chat', 'notifications', 'alerts'].map((h) => `${service.name}/${h}`),
    );
    for (const hub of hubs) {
      expect(hub.get('properties.anonymousConnectPolicy')).toBe('deny');
      const handlers = hub.get('properties.eventHandlers') as { urlTemplate: string }[];
      expect(handlers).toHaveLength(1);
      const url = new URL((handlers[0] as { urlTemplate: string }).urlTemplate);
      expect(url.protocol).toBe('https:');
      expect(url.host).toBe(`${site.name}.azurewebsites.net`);
      expect(url.pathname).toBe(`/${routePrefix}/${webhook.route}`);
      expect([...url.searchParams.keys()]).toEqual(['code']);
      expect(url.searchParams.get('code')).toBe(KEY);
    }
  });

  it('sends the connect, connected and disconnected system events and every user event by default, with no token', () => {
    const handler = (
      only(deployWith(), 'Microsoft.SignalRService/webPubSub/hubs').get('properties.eventHandlers') as Json[]
    )[0];
    expect(handler).toMatchObject({
      systemEvents: ['connect', 'connected', 'disconnected'],
      userEventPattern: '*',
      auth: { type: 'None' },
    });
    expect(only(deployWith(), 'Microsoft.SignalRService/webPubSub').get('identity')).toEqual({
      type: 'None',
    });
  });

  it('takes the system events, the user-event pattern and a managed-identity audience as parameters; the app then validates that token', () => {
    const audience = 'api://webpubsub-functions-webhook';
    const d = deployWith({
      eventHandlerSystemEvents: ['connected', 'disconnected'],
      eventHandlerUserEventPattern: 'chat,typing',
      eventHandlerAudience: audience,
    });
    const handler = (
      only(d, 'Microsoft.SignalRService/webPubSub/hubs').get('properties.eventHandlers') as Json[]
    )[0];
    expect(handler).toMatchObject({
      systemEvents: ['connected', 'disconnected'],
      userEventPattern: 'chat,typing',
      auth: { type: 'ManagedIdentity', managedIdentity: { resource: audience } },
    });
    // The service needs an identity of its own to obtain that token.
    expect(only(d, 'Microsoft.SignalRService/webPubSub').get('identity')).toEqual({ type: 'SystemAssigned' });

    const config = loadConfig(appSettings(d));
    expect(config.eventHandlerIdentity?.audience).toBe(audience);
    expect(config.eventHandlerIdentity?.issuers).toEqual(
      expect.arrayContaining([`https://login.microsoftonline.com/${context.tenantId}/v2.0`]),
    );
  });
});

describe('app settings', () => {
  it('give src/config.ts everything keyless production mode requires, and it accepts them', () => {
    const d = deployWith();
    const settings = appSettings(d);
    const identity = d.module('identity').outputs();
    const service = only(d, 'Microsoft.SignalRService/webPubSub');

    const { service: mode } = loadConfig(settings);
    expect(mode.mode).toBe('keyless');
    expect(mode.endpoint.href).toBe(`https://${service.name}.webpubsub.azure.com/`);
    expect(mode.mode === 'keyless' ? mode.managedIdentityClientId : undefined).toBe(identity.clientId);
    const config = loadConfig(settings);
    expect(config.defaultHub).toBe('chat');
    expect(config.hubs).toEqual(['chat']);
    // The webhook accepts the service's own host as WebHook-Request-Origin.
    expect(config.webhookOrigins).toEqual([`${service.name}.webpubsub.azure.com`]);
    expect(settings.WebPubSubConnectionString).toBeUndefined();
  });

  it('point the Functions host at its storage and telemetry with the identity, never with a key', () => {
    const d = deployWith();
    const settings = appSettings(d);
    const clientId = d.module('identity').outputs().clientId as string;
    const storage = only(d, 'Microsoft.Storage/storageAccounts');
    expect(settings).toMatchObject({
      AzureWebJobsStorage__blobServiceUri: `https://${storage.name}.blob.core.windows.net/`,
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: clientId,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${clientId};Authorization=AAD`,
    });
    expect(settings.APPLICATIONINSIGHTS_CONNECTION_STRING).toMatch(/^InstrumentationKey=/);
    // Flex Consumption sets the runtime in functionAppConfig and refuses these; a connection string would hold a key.
    for (const name of [
      'AzureWebJobsStorage',
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
    ]) {
      expect(settings[name]).toBeUndefined();
    }
  });

  it('are exactly settings the code or the Functions host reads, and every production setting of src/config.ts has a parameter', () => {
    const source = readFileSync(join(root, 'src', 'config.ts'), 'utf8');
    const codeReads = new Set(
      [...source.matchAll(/\(env, '([A-Za-z_][A-Za-z0-9_]*)'/g)].map((m) => m[1] as string),
    );
    const hostReads = new Set([
      'AzureWebJobsStorage__blobServiceUri',
      'AzureWebJobsStorage__credential',
      'AzureWebJobsStorage__clientId',
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    ]);
    // Read by the code but deliberately not deployed: a secret, settings derived from the tenant, one the platform sets.
    const notDeployed = new Set([
      'WebPubSubAccessKeys',
      'WebPubSubEventHandlerIssuers',
      'WebPubSubEventHandlerJwksUri',
      'WEBSITE_AUTH_ENABLED',
    ]);

    const everything = deployWith({
      additionalHubs: 'alerts',
      webhookAllowedOrigins: 'events.contoso.example',
      eventHandlerAudience: 'api://webpubsub-functions-webhook',
      webPubSubMaxEventBytes: 2097152,
      webPubSubMaxStateBytes: 8192,
      negotiateIdentity: 'bearer,anonymous',
      negotiateIssuer: `https://login.microsoftonline.com/${context.tenantId}/v2.0`,
      negotiateAudience: 'api://webpubsub-functions',
      negotiateJwksUri: `https://login.microsoftonline.com/${context.tenantId}/discovery/v2.0/keys`,
      negotiateUserIdClaim: 'oid',
      negotiateRoleClaim: 'roles',
      negotiateGroupClaim: 'groups',
      negotiateAllowedGroups: 'lobby,room.*,user.{userId}',
      negotiateRoles: 'webpubsub.joinLeaveGroup.lobby',
      negotiateGroupPermissions: 'joinLeaveGroup',
      negotiateAllowHubWideRoles: true,
      negotiateTokenLifetimeMinutes: 30,
      corsAllowedOrigins: 'https://chat.contoso.example',
      pushApiAudience: 'api://webpubsub-functions-push',
      pushApiTenantId: context.tenantId,
      pushApiIssuers: `https://sts.windows.net/${context.tenantId}/`,
      pushApiJwksUri: `https://login.microsoftonline.com/${context.tenantId}/discovery/v2.0/keys`,
      pushApiSendRole: 'Messages.Send',
      pushApiManageRole: 'Groups.Manage',
      pushApiRoleClaim: 'roles',
      pushApiServiceTimeoutMs: 5000,
    });
    const settings = appSettings(everything);
    for (const name of Object.keys(settings)) {
      expect({ name, read: codeReads.has(name) || hostReads.has(name) }).toEqual({ name, read: true });
    }
    const keyMode = appSettings(deployWith({ webPubSubDisableLocalAuth: false }));
    for (const name of codeReads) {
      if (notDeployed.has(name)) continue;
      expect({ name, deployed: name in settings || name in keyMode }).toEqual({ name, deployed: true });
    }

    const config = loadConfig(settings);
    expect(config.hubs).toEqual(['chat', 'alerts']);
    expect(config.webhookOrigins).toContain('events.contoso.example');
    expect(config.maxEventBytes).toBe(2097152);
    expect(config.maxStateBytes).toBe(8192);
    expect(config.negotiate).toMatchObject({
      identity: ['bearer', 'anonymous'],
      userIdClaim: 'oid',
      groupClaim: 'groups',
      allowHubWideRoles: true,
      tokenLifetimeMinutes: 30,
      corsOrigins: ['https://chat.contoso.example'],
    });
    expect(config.push).toMatchObject({
      sendRole: 'Messages.Send',
      manageRole: 'Groups.Manage',
      serviceTimeoutMs: 5000,
    });
    expect(config.push.bearer?.audience).toBe('api://webpubsub-functions-push');
  });

  it('leave a setting out when its parameter is empty, so the app applies its own default', () => {
    const settings = appSettings(deployWith());
    expect(Object.values(settings).filter((value) => value === '')).toEqual([]);
    for (const name of [
      'NegotiateTokenLifetimeMinutes',
      'WebPubSubMaxEventBytes',
      'PushApiServiceTimeoutMs',
      'PushApiTenantId',
    ]) {
      expect(settings[name]).toBeUndefined();
    }
  });

  it('give the push API this tenant when an audience is set without issuers', () => {
    const settings = appSettings(deployWith({ pushApiAudience: 'api://webpubsub-functions-push' }));
    expect(settings.PushApiTenantId).toBe(context.tenantId);
    expect(loadConfig(settings).push.bearer?.issuers).toContain(
      `https://sts.windows.net/${context.tenantId}/`,
    );
  });

  it('in key mode, hold a Key Vault reference to a secret that ARM reads from the service and only the app identity may read', () => {
    const d = deployWith({ webPubSubDisableLocalAuth: false });
    const settings = appSettings(d);
    const vault = only(d, 'Microsoft.KeyVault/vaults');
    const secret = only(d, 'Microsoft.KeyVault/vaults/secrets');
    expect(only(d, 'Microsoft.SignalRService/webPubSub').get('properties.disableLocalAuth')).toBe(false);

    expect(settings.WebPubSubConnectionString).toBe(
      `@Microsoft.KeyVault(SecretUri=https://${vault.name}.vault.azure.net/secrets/webpubsub-connection-string)`,
    );
    expect(settings.WebPubSubEndpoint).toBeUndefined();
    expect(settings.AZURE_CLIENT_ID).toBeUndefined();
    expect(functionsCalled((secret.raw.properties as Record<string, Json>).value as Json)).toContain(
      'listKeys',
    );
    expect(only(d, 'Microsoft.Web/sites').get('properties.keyVaultReferenceIdentity')).toBe(
      d.module('identity').outputs().resourceId,
    );
    expect(vault.get('properties')).toMatchObject({ enableRbacAuthorization: true, enableSoftDelete: true });

    // What the platform hands the app once it resolves the reference.
    const resolved = {
      ...settings,
      WebPubSubConnectionString: 'Endpoint=https://x.webpubsub.azure.com;AccessKey=k;Version=1.0;',
    };
    expect(loadConfig(resolved).service.mode).toBe('key');
  });
});

describe('role assignments', () => {
  const assignments = (d: Deployment) =>
    ofType(d, 'Microsoft.Authorization/roleAssignments').map((r) => {
      const properties = r.get('properties') as {
        roleDefinitionId: string;
        principalId: string;
        principalType: string;
      };
      const scope = r.raw.scope === undefined ? undefined : (r.get('scope') as string);
      return {
        role: properties.roleDefinitionId,
        principalId: properties.principalId,
        principalType: properties.principalType,
        on: scope === undefined ? 'the resource group' : parseResourceId(scope).type,
      };
    });
  const role = (id: string) =>
    `/subscriptions/${context.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${id}`;

  it('give the app identity the documented built-in roles, each on its one resource (keyless)', () => {
    const d = deployWith();
    const principalId = d.module('identity').outputs().principalId as string;
    const expected = [
      { role: role(BUILT_IN_ROLES.monitoringMetricsPublisher), on: 'Microsoft.Insights/components' },
      { role: role(BUILT_IN_ROLES.storageBlobDataOwner), on: 'Microsoft.Storage/storageAccounts' },
      { role: role(BUILT_IN_ROLES.webPubSubServiceOwner), on: 'Microsoft.SignalRService/webPubSub' },
    ].map((a) => ({ ...a, principalId, principalType: 'ServicePrincipal' }));
    const byScope = (a: { on: string }, b: { on: string }) => a.on.localeCompare(b.on);
    expect(assignments(d).sort(byScope)).toEqual(expected.sort(byScope));
  });

  it('in key mode, replace Web PubSub Service Owner with Key Vault Secrets User on the one secret', () => {
    const d = deployWith({ webPubSubDisableLocalAuth: false });
    const roles = assignments(d)
      .map((a) => `${a.role} on ${a.on}`)
      .sort();
    expect(roles).toEqual(
      [
        `${role(BUILT_IN_ROLES.keyVaultSecretsUser)} on Microsoft.KeyVault/vaults/secrets`,
        `${role(BUILT_IN_ROLES.monitoringMetricsPublisher)} on Microsoft.Insights/components`,
        `${role(BUILT_IN_ROLES.storageBlobDataOwner)} on Microsoft.Storage/storageAccounts`,
      ].sort(),
    );
  });

  it('are named with guid() of the scope, the principal and the role, so deploying again finds them', () => {
    for (const r of ofType(deployWith(), 'Microsoft.Authorization/roleAssignments')) {
      const name = r.raw.name as string;
      expect(name).toMatch(/^\[guid\(/);
      expect(functionsCalled(name)).not.toEqual(expect.arrayContaining(['utcNow']));
      expect(r.name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});

describe('secrets', () => {
  it('no output anywhere reads a list*() function or a secure parameter', () => {
    for (const { path, template: t } of templates(template)) {
      const secure = secureParameters(t);
      for (const [name, output] of Object.entries((t.outputs ?? {}) as Record<string, { value: Json }>)) {
        const where = `${path} output ${name}`;
        expect({ where, lists: functionsCalled(output.value).filter((f) => /^list/i.test(f)) }).toEqual({
          where,
          lists: [],
        });
        expect({ where, secure: parametersRead(output.value).filter((p) => secure.includes(p)) }).toEqual({
          where,
          secure: [],
        });
      }
    }
  });

  it('the function key travels only in secure parameters, and no output or app setting holds it or any other key', () => {
    for (const { path, template: t } of templates(template)) {
      const parameters = (t.parameters ?? {}) as Record<string, { type: string }>;
      if ('webhookFunctionKey' in parameters)
        expect({ path, type: parameters.webhookFunctionKey.type }).toEqual({ path, type: 'securestring' });
    }
    for (const d of [
      deployWith(),
      deployWith({ webPubSubDisableLocalAuth: false, eventHandlerAudience: 'api://x' }),
    ]) {
      const outputs = JSON.stringify(d.outputs());
      const settings = JSON.stringify(appSettings(d));
      for (const text of [outputs, settings]) {
        expect(text).not.toContain(KEY);
        expect(text).not.toMatch(/AccessKey=|AccountKey=|SharedAccessSignature=|sig=/i);
      }
      const site = only(d, 'Microsoft.Web/sites');
      const appSettingsExpression = (
        (site.raw.properties as Record<string, Json>).siteConfig as Record<string, Json>
      ).appSettings as Json;
      expect(functionsCalled(appSettingsExpression).filter((f) => /^list/i.test(f))).toEqual([]);
      expect(parametersRead(appSettingsExpression)).not.toContain('webhookFunctionKey');
    }
  });
});

describe('outputs', () => {
  it('are UPPER_SNAKE for azd and name the function app, its URL, negotiate and the Web PubSub endpoint', () => {
    const d = deployWith();
    const outputs = d.outputs();
    for (const name of Object.keys(outputs)) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
    const site = only(d, 'Microsoft.Web/sites');
    const service = only(d, 'Microsoft.SignalRService/webPubSub');
    const host = `${site.name}.azurewebsites.net`;
    expect(outputs).toMatchObject({
      AZURE_FUNCTION_APP_NAME: site.name,
      FUNCTION_APP_URL: `https://${host}`,
      NEGOTIATE_URL: `https://${host}/${routePrefix}/${httpTrigger('negotiate').route}`,
      EVENT_HANDLER_URL: `https://${host}/${routePrefix}/${httpTrigger('webpubsubEvents').route}`,
      WEB_PUBSUB_ENDPOINT: `https://${service.name}.webpubsub.azure.com`,
      WEB_PUBSUB_NAME: service.name,
      WEB_PUBSUB_HUBS: 'chat',
      AZURE_TENANT_ID: context.tenantId,
    });
  });
});

describe('deploying twice', () => {
  it('creates the same resources with the same settings, whatever the deployment name or the time', () => {
    const first = deployWith();
    const again = deployWith(
      {},
      {
        ...context,
        deploymentName: 'demo-1732320000',
        utcNow: '20241123T000000Z',
        newGuid: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      },
    );
    // A module's own template is evaluated in its own scope; what the parent decides is its parameters.
    const snapshot = (d: Deployment) =>
      d
        .resources()
        .map((r) => ({
          id: `${r.type} ${r.name}`,
          body: r.type === 'Microsoft.Resources/deployments' ? r.get('properties.parameters') : r.get(),
        }))
        .sort((a, b) => a.id.localeCompare(b.id));
    expect(snapshot(again)).toEqual(snapshot(first));
    for (const r of first.resources()) {
      expect({
        name: r.name,
        calls: functionsCalled(r.raw.name as Json).filter((f) => /^(utcNow|newGuid|deployment)$/i.test(f)),
      }).toEqual({
        name: r.name,
        calls: [],
      });
    }
  });

  it('in another environment names everything apart', () => {
    const names = (d: Deployment) =>
      d
        .resources()
        .filter((r) => r.type !== 'Microsoft.Resources/deployments')
        .map((r) => r.name);
    const mine = new Set(names(deployWith()));
    expect(names(deployWith({ environmentName: 'staging' })).filter((name) => mine.has(name))).toEqual([]);
  });
});

describe('resources', () => {
  it('are a Flex Consumption app on Node 22 with its scale from parameters, deployed from a container through the identity', () => {
    const d = deployWith({ functionInstanceMemoryMB: 4096, functionMaximumInstanceCount: 200 });
    expect(only(d, 'Microsoft.Web/serverfarms').get('sku')).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    const site = only(d, 'Microsoft.Web/sites');
    const identityId = d.module('identity').outputs().resourceId as string;
    const storage = only(d, 'Microsoft.Storage/storageAccounts');
    const container = only(d, 'Microsoft.Storage/storageAccounts/blobServices/containers');
    expect(site.get('kind')).toBe('functionapp,linux');
    expect(site.get('identity')).toEqual({
      type: 'UserAssigned',
      userAssignedIdentities: { [identityId]: {} },
    });
    expect(site.get('properties.httpsOnly')).toBe(true);
    expect(site.get('properties.functionAppConfig')).toEqual({
      deployment: {
        storage: {
          type: 'blobContainer',
          value: `https://${storage.name}.blob.core.windows.net/${container.name.split('/').pop() as string}`,
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId },
        },
      },
      scaleAndConcurrency: { instanceMemoryMB: 4096, maximumInstanceCount: 200 },
      runtime: { name: 'node', version: '22' },
    });
    // Tagged for azd's deploy step (azure.yaml service "api").
    expect(site.get('tags')).toMatchObject({ 'azd-service-name': 'api', 'azd-env-name': 'demo' });
    expect(
      ofType(d, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies').map((p) => p.get('properties')),
    ).toEqual([{ allow: false }, { allow: false }]);
  });

  it('have secure defaults: no shared keys, no local auth, TLS 1.2, no public blobs', () => {
    const d = deployWith();
    expect(only(d, 'Microsoft.Storage/storageAccounts').get('properties')).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
    });
    expect(only(d, 'Microsoft.SignalRService/webPubSub').get('properties.disableLocalAuth')).toBe(true);
    expect(only(d, 'Microsoft.Insights/components').get('properties.DisableLocalAuth')).toBe(true);
    expect(
      only(d, 'Microsoft.OperationalInsights/workspaces').get('properties.features.disableLocalAuth'),
    ).toBe(true);
    expect(only(d, 'Microsoft.Web/sites').get('properties.siteConfig.minTlsVersion')).toBe('1.2');
    expect(ofType(d, 'Microsoft.KeyVault/vaults')).toEqual([]);
  });

  it('take the Web PubSub SKU and units as parameters', () => {
    expect(only(deployWith(), 'Microsoft.SignalRService/webPubSub').get('sku')).toEqual({
      name: 'Standard_S1',
      tier: 'Standard',
      capacity: 1,
    });
    expect(
      only(
        deployWith({ webPubSubSku: 'Premium_P1', webPubSubCapacity: 2 }),
        'Microsoft.SignalRService/webPubSub',
      ).get('sku'),
    ).toEqual({
      name: 'Premium_P1',
      tier: 'Premium',
      capacity: 2,
    });
    expect(
      only(deployWith({ webPubSubSku: 'Free_F1' }), 'Microsoft.SignalRService/webPubSub').get('sku'),
    ).toMatchObject({ tier: 'Free' });
  });
});

describe('infra/main.parameters.json', () => {
  it('maps environment variables to parameters the template declares, and leaves out only the generated key', () => {
    const file = JSON.parse(readFileSync(join(root, 'infra', 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    const declared = (template.parameters ?? {}) as Record<
      string,
      { defaultValue?: Json; metadata?: Record<string, Json> }
    >;
    for (const [name, { value }] of Object.entries(file.parameters)) {
      expect({ name, declared: name in declared }).toEqual({ name, declared: true });
      expect({ name, value }).toEqual({
        name,
        value: expect.stringMatching(/^\$\{[A-Z][A-Z0-9_]*\}$/) as unknown,
      });
    }
    const unmapped = Object.keys(declared).filter((name) => !(name in file.parameters));
    expect(unmapped).toEqual(['webhookFunctionKey']);
    expect(declared.webhookFunctionKey?.metadata).toMatchObject({ azd: { type: 'generate' } });
  });
});
