import type { ClientConnection } from '../connection';
import { Delivery, type Payload } from '../messages';
import { enqueue, publishToGroup, type ProtocolContext } from './json-protocol';
import { sendUserEvent } from './user-events';

/**
 * Simple WebSocket clients (no subprotocol, or a custom one a connect handler chose). Every frame is the
 * user event `message` (text frames as text/plain, binary as octet-stream) and a handler's answer comes
 * back unwrapped; in `webpubsub_mode=sendToGroup` every frame is published to the connection's group.
 */
export function handleRawFrame(
  context: ProtocolContext,
  connection: ClientConnection,
  frame: Buffer,
  isBinary: boolean,
): void {
  const payload: Payload = { dataType: isBinary ? 'binary' : 'text', data: frame };
  const mode = connection.rawSendToGroup;
  if (mode !== undefined) {
    if (!connection.roles.can('sendToGroup', mode.group)) {
      const reason = `The client does not have permission to send to group '${mode.group}'.`;
      connection.close(1008, 'Forbidden', reason);
      return;
    }
    publishToGroup(context.registry, connection, mode.group, payload, mode.noEcho);
    return;
  }
  enqueue(context, connection, async () => {
    const result = await sendUserEvent(context.dispatcher, connection, 'message', payload);
    if (!result.ok) {
      context.log(`client ${connection.connectionId}: message event failed: ${result.reason}`);
      // A simple client has no acks: the service closes it, without the handler's details.
      connection.close(1011, 'Internal server error', `The message event failed: ${result.reason}.`);
      return;
    }
    if (result.reply !== undefined) connection.deliver(new Delivery(result.reply, { from: 'server' }));
  });
}
