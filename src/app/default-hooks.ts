import { rejectConnect, type WebhookHooks } from '../events/hooks';

/** Subprotocols of the service, most capable first: the reliable one keeps messages across reconnects. */
const WEB_PUBSUB_SUBPROTOCOLS = [
  'json.reliable.webpubsub.azure.v1',
  'json.webpubsub.azure.v1',
  'protobuf.reliable.webpubsub.azure.v1',
  'protobuf.webpubsub.azure.v1',
];

/**
 * What the product does on each event until an application says otherwise: admit only connections whose
 * token named a user (tokens from /api/negotiate always do), pick the best Web PubSub subprotocol offered,
 * echo `echo` events back, acknowledge the rest, and record the connection lifecycle.
 */
export function createDefaultHooks(): WebhookHooks {
  return {
    connect(event) {
      if (!event.context.userId) {
        return rejectConnect(
          401,
          'A user id is required: connect with a client access URL from /api/negotiate.',
        );
      }
      const preferred = WEB_PUBSUB_SUBPROTOCOLS.find((protocol) => event.subprotocols.includes(protocol));
      return preferred ? { subprotocol: preferred } : undefined;
    },
    userEvent(event) {
      if (event.context.eventName !== 'echo') return undefined;
      return event.dataType === 'text'
        ? { dataType: 'text', data: event.data }
        : event.dataType === 'json'
          ? { dataType: 'json', data: event.data }
          : { dataType: 'binary', data: event.data };
    },
    connected(context) {
      context.log.info('connected', {
        hub: context.hub,
        connectionId: context.connectionId,
        userId: context.userId,
      });
    },
    disconnected(context, reason) {
      context.log.info('disconnected', { hub: context.hub, connectionId: context.connectionId, reason });
    },
  };
}
