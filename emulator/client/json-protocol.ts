import { isValidGroupName } from '../../src/protocol/names';
import { isValidEventName } from '../config';
import type { ClientConnection } from '../connection';
import { Delivery, PONG_MESSAGE, type Payload } from '../messages';
import type { Permission } from '../permissions';
import type { Registry } from '../registry';
import type { EventDispatcher } from '../upstream/dispatcher';
import { sendUserEvent } from './user-events';

export interface ProtocolContext {
  registry: Registry;
  dispatcher: EventDispatcher;
  log: (line: string) => void;
}

/** A message the protocol cannot accept: the connection closes with 1007 (invalid payload). */
class InvalidMessage extends Error {}

const MAX_TTL_SECONDS = 300;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type Message = Record<string, unknown>;

function isRecord(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ackIdOf(message: Message): number | undefined {
  const { ackId } = message;
  if (ackId === undefined || ackId === null) return undefined;
  if (typeof ackId !== 'number' || !Number.isSafeInteger(ackId) || ackId < 0) {
    throw new InvalidMessage('"ackId" must be a non-negative integer');
  }
  return ackId;
}

function stringField(message: Message, name: string): string {
  const value = message[name];
  if (typeof value !== 'string') throw new InvalidMessage(`"${name}" must be a string`);
  return value;
}

/** `data` as its `dataType` says (json by default): text is a string, binary is base64. */
export function payloadOf(message: Message): Payload {
  const dataType = message.dataType ?? 'json';
  const { data } = message;
  switch (dataType) {
    case 'text':
      if (typeof data !== 'string') throw new InvalidMessage('"data" must be a string for dataType text');
      return { dataType: 'text', data: Buffer.from(data, 'utf8') };
    case 'json':
      if (data === undefined) throw new InvalidMessage('"data" is required');
      return { dataType: 'json', data: Buffer.from(JSON.stringify(data), 'utf8') };
    case 'binary':
      if (typeof data !== 'string' || data.length % 4 !== 0 || !BASE64.test(data)) {
        throw new InvalidMessage('"data" must be base64 for dataType binary');
      }
      return { dataType: 'binary', data: Buffer.from(data, 'base64') };
    default:
      throw new InvalidMessage('"dataType" must be json, text or binary');
  }
}

const DENIED: Record<Permission | 'leave', string> = {
  joinLeaveGroup: 'join',
  leave: 'leave',
  sendToGroup: 'send to',
};

function forbidden(action: Permission | 'leave', group: string): { name: string; message: string } {
  return {
    name: 'Forbidden',
    message: `The client does not have permission to ${DENIED[action]} group '${group}'.`,
  };
}

function duplicate(ackId: number): { name: string; message: string } {
  return { name: 'Duplicate', message: `Message with ack-id: ${ackId} has been processed` };
}

/**
 * `json.webpubsub.azure.v1` and its reliable variant, client to service. Frames may be text or binary
 * (UTF-8 JSON either way). Anything that is not a protocol message closes the connection with 1007.
 */
export function handleJsonFrame(context: ProtocolContext, connection: ClientConnection, frame: Buffer): void {
  try {
    let message: unknown;
    try {
      message = JSON.parse(frame.toString('utf8'));
    } catch {
      throw new InvalidMessage('the frame is not JSON');
    }
    if (!isRecord(message) || typeof message.type !== 'string') {
      throw new InvalidMessage('a message needs a "type"');
    }
    dispatchMessage(context, connection, message, message.type);
  } catch (error) {
    if (!(error instanceof InvalidMessage)) throw error;
    const reason = `The message is not a valid JSON protocol message: ${error.message}.`;
    connection.close(1007, 'not a valid JSON protocol message', reason, reason);
  }
}

function dispatchMessage(
  context: ProtocolContext,
  connection: ClientConnection,
  message: Message,
  type: string,
): void {
  switch (type) {
    case 'joinGroup':
    case 'leaveGroup':
      joinOrLeave(context, connection, message, type === 'joinGroup');
      return;
    case 'sendToGroup':
      sendToGroup(context, connection, message);
      return;
    case 'event':
      userEvent(context, connection, message);
      return;
    case 'invoke':
      invoke(context, connection, message);
      return;
    case 'sequenceAck': {
      const { sequenceId } = message;
      if (typeof sequenceId !== 'number' || !Number.isSafeInteger(sequenceId) || sequenceId < 0) {
        throw new InvalidMessage('"sequenceId" must be a non-negative integer');
      }
      // Accepted on the plain protocol too, where it means nothing.
      if (connection.protocol === 'reliable') connection.acknowledgeSequence(sequenceId);
      return;
    }
    case 'ping':
      connection.sendControl(PONG_MESSAGE);
      return;
    case 'cancelInvocation':
      // Invocations run to completion; a late answer for a cancelled one is ignored by the client.
      return;
    default:
      throw new InvalidMessage(`unknown type "${type.length > 64 ? `${type.slice(0, 64)}…` : type}"`);
  }
}

function groupOf(message: Message): string {
  const group = stringField(message, 'group');
  if (!isValidGroupName(group)) {
    throw new InvalidMessage('"group" must be 1-1024 characters and not only whitespace');
  }
  return group;
}

function joinOrLeave(
  context: ProtocolContext,
  connection: ClientConnection,
  message: Message,
  join: boolean,
): void {
  const ackId = ackIdOf(message);
  const group = groupOf(message);
  if (ackId !== undefined && connection.isDuplicateAck(ackId)) {
    connection.ack(ackId, duplicate(ackId));
    return;
  }
  if (!connection.roles.can('joinLeaveGroup', group)) {
    connection.ack(ackId, forbidden(join ? 'joinLeaveGroup' : 'leave', group));
    return;
  }
  const hub = context.registry.hub(connection.hub);
  if (join) hub.join(connection, group);
  else hub.leave(connection, group);
  if (ackId !== undefined) connection.rememberAck(ackId);
  connection.ack(ackId);
}

function sendToGroup(context: ProtocolContext, connection: ClientConnection, message: Message): void {
  const ackId = ackIdOf(message);
  const group = groupOf(message);
  const { noEcho, ttlSeconds } = message;
  if (noEcho !== undefined && noEcho !== null && typeof noEcho !== 'boolean') {
    throw new InvalidMessage('"noEcho" must be a boolean');
  }
  if (
    ttlSeconds !== undefined &&
    ttlSeconds !== null &&
    (typeof ttlSeconds !== 'number' ||
      !Number.isInteger(ttlSeconds) ||
      ttlSeconds < 0 ||
      ttlSeconds > MAX_TTL_SECONDS)
  ) {
    throw new InvalidMessage('"ttlSeconds" must be an integer from 0 to 300');
  }
  const payload = payloadOf(message);
  if (ackId !== undefined && connection.isDuplicateAck(ackId)) {
    connection.ack(ackId, duplicate(ackId));
    return;
  }
  if (!connection.roles.can('sendToGroup', group)) {
    connection.ack(ackId, forbidden('sendToGroup', group));
    return;
  }
  publishToGroup(context.registry, connection, group, payload, noEcho === true);
  if (ackId !== undefined) connection.rememberAck(ackId);
  connection.ack(ackId);
}

/** A client's group message: every member gets it, the sender too unless noEcho. */
export function publishToGroup(
  registry: Registry,
  sender: ClientConnection,
  group: string,
  payload: Payload,
  noEcho: boolean,
): void {
  const delivery = new Delivery(payload, { from: 'group', group, fromUserId: sender.userId });
  for (const member of registry.hub(sender.hub).members(group)) {
    if (noEcho && member === sender) continue;
    member.deliver(delivery);
  }
}

/** Runs `work` after the connection's earlier user events; a fault is logged, the queue carries on. */
export function enqueue(
  context: ProtocolContext,
  connection: ClientConnection,
  work: () => Promise<void>,
): void {
  connection.inbound = connection.inbound.then(work).catch((error: unknown) => {
    context.log(
      `client ${connection.connectionId}: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
}

function eventNameOf(message: Message): string {
  const name = stringField(message, 'event');
  if (!isValidEventName(name)) {
    throw new InvalidMessage('"event" must start with a letter and hold letters, digits, _ . - (≤ 128)');
  }
  return name;
}

function userEvent(context: ProtocolContext, connection: ClientConnection, message: Message): void {
  const ackId = ackIdOf(message);
  const eventName = eventNameOf(message);
  const payload = payloadOf(message);
  if (ackId !== undefined && connection.isDuplicateAck(ackId)) {
    connection.ack(ackId, duplicate(ackId));
    return;
  }
  // Events reach the handler one at a time, in the client's order; the reply precedes the ack.
  enqueue(context, connection, async () => {
    const result = await sendUserEvent(context.dispatcher, connection, eventName, payload);
    if (!result.ok) {
      context.log(`client ${connection.connectionId}: event "${eventName}" failed: ${result.reason}`);
      connection.ack(ackId, { name: 'InternalServerError', message: 'Internal server error' });
      return;
    }
    if (result.reply !== undefined) connection.deliver(new Delivery(result.reply, { from: 'server' }));
    if (ackId !== undefined) connection.rememberAck(ackId);
    connection.ack(ackId);
  });
}

/** `invoke` (client SDK 1.1): a user event whose answer comes back as an invokeResponse. */
function invoke(context: ProtocolContext, connection: ClientConnection, message: Message): void {
  const invocationId = stringField(message, 'invocationId');
  const target = message.target ?? 'event';
  if (target !== 'event') throw new InvalidMessage('"target" must be "event"');
  const eventName = eventNameOf(message);
  const payload =
    message.dataType === undefined && message.data === undefined
      ? { dataType: 'text' as const, data: Buffer.alloc(0) }
      : payloadOf(message);
  enqueue(context, connection, async () => {
    const result = await sendUserEvent(context.dispatcher, connection, eventName, payload);
    if (!result.ok) {
      context.log(`client ${connection.connectionId}: invoke "${eventName}" failed: ${result.reason}`);
      connection.sendControl(
        JSON.stringify({
          type: 'invokeResponse',
          invocationId,
          success: false,
          error: { name: 'InternalServerError', message: 'Internal server error' },
        }),
      );
      return;
    }
    const reply = result.reply;
    const response: Record<string, unknown> = { type: 'invokeResponse', invocationId, success: true };
    if (reply !== undefined) {
      response.dataType = reply.dataType;
      response.data =
        reply.dataType === 'text'
          ? reply.data.toString('utf8')
          : reply.dataType === 'binary'
            ? reply.data.toString('base64')
            : (JSON.parse(reply.data.toString('utf8')) as unknown);
    }
    connection.sendControl(JSON.stringify(response));
  });
}
