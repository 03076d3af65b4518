import type { EventAuthenticator } from '../../src/events/authentication';
import { createWebhook } from '../../src/events/webhook';
import { silentLogger } from '../../src/http/types';
import { createOriginPolicy } from '../../src/protocol/origins';
import { serveCoreHandler } from '../lib/serve';
import { EVENTS_PATH, HUB, ORIGIN } from './fixture';

/**
 * Our webhook on plain node:http with everything a deployment has switched on (origin check, the given
 * authenticators, hub check, bounded bodies); hooks do the same work as the Express server's handlers.
 */
export function serveOurWebhook(authenticators: readonly EventAuthenticator[]): void {
  const webhook = createWebhook({
    hubs: [HUB],
    origins: createOriginPolicy([ORIGIN]),
    authenticators,
    hooks: {
      connect: (event) => ({ userId: event.context.userId ?? 'anonymous', groups: event.query.room ?? [] }),
      userEvent: (event) => (event.dataType === 'text' ? { dataType: 'text', data: event.data } : undefined),
    },
    maxBodyBytes: 1024 * 1024,
    maxStateBytes: 4096,
  });

  serveCoreHandler(EVENTS_PATH, (request) => webhook(request, silentLogger));
}
