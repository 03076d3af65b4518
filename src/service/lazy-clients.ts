import type { ServiceConfig } from '../config';
import type { ServiceClients, ServiceClientsOptions } from './clients';

/**
 * Service clients whose module (and with it `@azure/web-pubsub` and its HTTP pipeline) is loaded on the first
 * `forHub`: key-mode negotiate signs tokens itself and never calls it, so its cold start does not pay for them.
 */
export function lazyServiceClients(
  config: ServiceConfig,
  options: ServiceClientsOptions = {},
): ServiceClients {
  let clients: Promise<ServiceClients> | undefined;
  return {
    mode: config.mode,
    endpoint: config.endpoint,
    async forHub(hub) {
      clients ??= import('./clients.js').then(
        (module) => module.createServiceClients(config, options),
        (error: unknown) => {
          clients = undefined;
          throw error;
        },
      );
      return (await clients).forHub(hub);
    },
  };
}
