import type { Config } from '../config';
import type { WebhookHooks } from '../events/hooks';
import { lazyServiceClients } from '../service/lazy-clients';
import { serviceClientOptions } from '../service/resilience';
import { createChatHooks } from './chat';
import { createRoomPolicy } from './rooms';
import { createChatService } from './service';

/** How long one service call made for a user event may take: the sender is waiting for the reply. */
export const CHAT_SERVICE_TIMEOUT_MS = 3000;

/** The application the webhook runs: the reference chat, with rooms open by the negotiate policy. */
export function createAppHooks(config: Config): WebhookHooks {
  return createChatHooks({
    // Clients of its own: the chat's time budget is not the push API's or negotiate's. Loaded on the first
    // event that calls the service: a connect (what every WebSocket connect waits for) never does, so a cold
    // webhook answers it without evaluating @azure/web-pubsub and its HTTP pipeline.
    service: createChatService(
      lazyServiceClients(config.service, {
        clientOptions: serviceClientOptions(CHAT_SERVICE_TIMEOUT_MS),
      }),
      CHAT_SERVICE_TIMEOUT_MS,
    ),
    canJoin: createRoomPolicy(config.negotiate.allowedGroups),
  });
}
