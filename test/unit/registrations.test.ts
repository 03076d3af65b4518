/**
 * The registrations are the contract with the Functions host, ARCHITECTURE.md's pinned routes and infra/:
 * read them back from what @azure/functions hands to '@azure/functions-core' (jest maps that module to the
 * local host's stand-in, as the real worker supplies its own).
 */
import { localHostInternals } from '../../dev/host/core-api';
import { loadConfig } from '../../src/config';
import { webhookAuthenticators } from '../../src/functions/runtime/handlers';
// Loading the registration files registers their functions with the stand-in core module.
import '../../src/functions/webhook';
import '../../src/functions/health';

function httpTrigger(name: string) {
  const fn = localHostInternals.functions().find((entry) => entry.metadata.name === name);
  return Object.values(fn?.metadata.bindings ?? {}).find((binding) => binding.type === 'httpTrigger');
}

describe('function registrations', () => {
  it('serves the webhook at the pinned route, OPTIONS and POST, behind a function key', () => {
    expect(httpTrigger('webpubsubEvents')).toMatchObject({
      route: 'webpubsub/events',
      methods: ['OPTIONS', 'POST'],
      authLevel: 'function',
    });
  });

  it('serves health anonymously with GET', () => {
    expect(httpTrigger('health')).toMatchObject({
      route: 'health',
      methods: ['GET'],
      authLevel: 'anonymous',
    });
  });
});

describe('how the webhook authenticates the service, by configuration', () => {
  const key = 'Endpoint=https://res.webpubsub.azure.com;AccessKey=k1;Version=1.0;';
  const names = (env: Record<string, string>) => webhookAuthenticators(loadConfig(env)).map((a) => a.name);

  it('key mode checks the signature', () => {
    expect(names({ WebPubSubConnectionString: key })).toEqual(['signature']);
  });

  it('keyless mode with an event handler identity checks the managed-identity token', () => {
    expect(
      names({
        WebPubSubEndpoint: 'https://res.webpubsub.azure.com',
        WebPubSubEventHandlerAudience: 'api://webhook',
        WebPubSubEventHandlerTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      }),
    ).toEqual(['managed-identity']);
  });

  it('keyless mode without one still demands the function key, never nothing', () => {
    expect(names({ WebPubSubEndpoint: 'https://res.webpubsub.azure.com' })).toEqual(['function-key']);
  });

  it('keyless mode with extra access keys (local auth kept on) checks signatures', () => {
    expect(
      names({ WebPubSubEndpoint: 'https://res.webpubsub.azure.com', WebPubSubAccessKeys: 'k1,k2' }),
    ).toEqual(['signature']);
  });

  it('both mechanisms configured: both must pass', () => {
    expect(
      names({
        WebPubSubConnectionString: key,
        WebPubSubEventHandlerAudience: 'api://webhook',
        WebPubSubEventHandlerTenantId: 'contoso.onmicrosoft.com',
      }),
    ).toEqual(['signature', 'managed-identity']);
  });
});
