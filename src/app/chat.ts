import { randomUUID } from 'node:crypto';
import {
  rejectConnect,
  type EventContext,
  type UserEvent,
  type UserEventReply,
  type WebhookHooks,
} from '../events/hooks';
import { parseChatMessage, parseRoomEvent, type Refusal, type RoomMessage } from './messages';
import { storeBucket, takeToken, type BucketLimit } from './rate-limit';
import { isRoomName, MAX_ROOMS, roomsOf, setRooms, type RoomPolicy } from './rooms';
import type { ChatService } from './service';

/**
 * The reference application: a small chat with rooms, typing, presence and server notifications, on top of
 * the webhook's hooks. The client side is in web/; the contract between both is the chat contract (join,
 * leave, message and typing events, each answered with `{ ok, ... }`; message, typing and presence
 * messages in the rooms' groups). Edit freely: this file is what the product does with events.
 *
 * Connect stays cheap (no service call: the token's groups are already joined by the service); presence is
 * announced on `connected`, a notification, so the client's handshake never waits for it.
 */
export interface ChatOptions {
  service: ChatService;
  /** Who may join which room (see rooms.ts). */
  canJoin: RoomPolicy;
  /** Per-connection message limit; default a burst of 5, refilled 1 per second. */
  messageLimit?: BucketLimit;
  /** Per-connection typing limit (each typing event is a broadcast); default as messageLimit. */
  typingLimit?: BucketLimit;
  now?: () => number;
  newId?: () => string;
}

export const DEFAULT_MESSAGE_LIMIT: BucketLimit = { capacity: 5, refillPerSecond: 1 };

/** Subprotocols of the service, most capable first: the reliable one keeps messages across reconnects. */
const WEB_PUBSUB_SUBPROTOCOLS = [
  'json.reliable.webpubsub.azure.v1',
  'json.webpubsub.azure.v1',
  'protobuf.reliable.webpubsub.azure.v1',
  'protobuf.webpubsub.azure.v1',
];

const GROUP_CLAIM = 'webpubsub.group';

const reply = (data: Record<string, unknown>): UserEventReply => ({ dataType: 'json', data });
const ok = (fields: Record<string, unknown> = {}): UserEventReply => reply({ ok: true, ...fields });
const refuse = (error: Refusal, fields: Record<string, unknown> = {}): UserEventReply =>
  reply({ ok: false, error, ...fields });

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : String(error);
}

export function createChatHooks(options: ChatOptions): WebhookHooks {
  const { service, canJoin } = options;
  const messageLimit = options.messageLimit ?? DEFAULT_MESSAGE_LIMIT;
  const typingLimit = options.typingLimit ?? messageLimit;
  const now = options.now ?? Date.now;
  const newId = options.newId ?? randomUUID;

  /** Runs the service calls of one event; a failure is logged and becomes `unavailable` for the sender. */
  async function attempt(
    context: EventContext,
    what: string,
    run: () => Promise<UserEventReply>,
  ): Promise<UserEventReply> {
    try {
      return await run();
    } catch (error) {
      context.log.warn(`chat: ${what} failed`, {
        hub: context.hub,
        connectionId: context.connectionId,
        error: describe(error),
      });
      return refuse('unavailable');
    }
  }

  /**
   * Presence is best effort: a failed announcement is logged, and never fails the join or leave it follows
   * (that did happen) nor stops the other rooms.
   */
  async function announce(context: EventContext, rooms: readonly string[], status: 'online' | 'offline') {
    const userId = context.userId;
    if (userId === undefined) return;
    const results = await Promise.allSettled(
      rooms.map((room) =>
        service.send(context.hub, room, { type: 'presence', room, userId, status } satisfies RoomMessage),
      ),
    );
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        context.log.warn('chat: presence announcement failed', {
          hub: context.hub,
          room: rooms[i],
          status,
          error: describe(result.reason),
        });
      }
    });
  }

  async function join(event: UserEvent, context: EventContext, userId: string): Promise<UserEventReply> {
    const parsed = parseRoomEvent(event);
    if (!parsed) return refuse('invalid');
    const { room } = parsed;
    if (!canJoin(room, userId)) return refuse('forbidden');
    const rooms = roomsOf(context.state);
    const isNew = !rooms.includes(room);
    if (isNew && rooms.length >= MAX_ROOMS) return refuse('invalid', { maxRooms: MAX_ROOMS });
    return attempt(context, `join ${room}`, async () => {
      await service.join(context.hub, room, context.connectionId);
      // Remembered at once: if what follows fails, the connection is in the group and a retry is harmless.
      if (isNew) setRooms(context.state, [...rooms, room]);
      const [members] = await Promise.all([
        service.members(context.hub, room),
        isNew ? announce(context, [room], 'online') : undefined,
      ]);
      return ok({ room, members });
    });
  }

  async function leave(event: UserEvent, context: EventContext): Promise<UserEventReply> {
    const parsed = parseRoomEvent(event);
    if (!parsed) return refuse('invalid');
    const { room } = parsed;
    const rooms = roomsOf(context.state);
    return attempt(context, `leave ${room}`, async () => {
      await service.leave(context.hub, room, context.connectionId);
      if (!rooms.includes(room)) return ok({ room });
      setRooms(
        context.state,
        rooms.filter((known) => known !== room),
      );
      await announce(context, [room], 'offline');
      return ok({ room });
    });
  }

  async function message(event: UserEvent, context: EventContext, userId: string): Promise<UserEventReply> {
    const parsed = parseChatMessage(event);
    if (!parsed) return refuse('invalid');
    const { room, text } = parsed;
    if (!roomsOf(context.state).includes(room)) return refuse('not-in-room');
    const at = now();
    const token = takeToken(context.state, 'rate', messageLimit, at);
    if (!token.ok) return refuse('rate-limited', { retryAfterMs: token.retryAfterMs });
    const id = newId();
    return attempt(context, `message to ${room}`, async () => {
      const sent: RoomMessage = {
        type: 'message',
        id,
        room,
        from: userId,
        text,
        at: new Date(at).toISOString(),
      };
      await service.send(context.hub, room, sent);
      // Only a message that went out costs a token.
      storeBucket(context.state, 'rate', token.bucket);
      return ok({ id });
    });
  }

  async function typing(event: UserEvent, context: EventContext, userId: string): Promise<UserEventReply> {
    const parsed = parseRoomEvent(event);
    if (!parsed) return refuse('invalid');
    const { room } = parsed;
    if (!roomsOf(context.state).includes(room)) return refuse('not-in-room');
    const token = takeToken(context.state, 'typing', typingLimit, now());
    if (!token.ok) return refuse('rate-limited', { retryAfterMs: token.retryAfterMs });
    return attempt(context, `typing in ${room}`, async () => {
      await service.send(context.hub, room, { type: 'typing', room, userId }, context.connectionId);
      storeBucket(context.state, 'typing', token.bucket);
      return ok();
    });
  }

  const chatEvents = { join, leave, message, typing } as const;

  return {
    connect(event) {
      const userId = event.context.userId;
      if (userId === undefined || userId === '') {
        return rejectConnect(
          401,
          'A user id is required: connect with a client access URL from /api/negotiate.',
        );
      }
      // The token's groups (granted by negotiate) are joined by the service itself; remember them as rooms.
      const rooms = [...new Set(event.claims[GROUP_CLAIM] ?? [])].filter(isRoomName).slice(0, MAX_ROOMS);
      if (rooms.length > 0) setRooms(event.context.state, rooms);
      const preferred = WEB_PUBSUB_SUBPROTOCOLS.find((protocol) => event.subprotocols.includes(protocol));
      return preferred ? { subprotocol: preferred } : undefined;
    },

    userEvent(event) {
      const { context } = event;
      const name = context.eventName;
      // A diagnostic: `echo` comes back as it was sent (any data type).
      if (name === 'echo') {
        return event.dataType === 'text'
          ? { dataType: 'text', data: event.data }
          : event.dataType === 'json'
            ? { dataType: 'json', data: event.data }
            : { dataType: 'binary', data: event.data };
      }
      if (!Object.hasOwn(chatEvents, name)) return undefined;
      // Raw WebSocket frames arrive as `message` events too, as text or binary. A raw client is not a chat
      // client (a JSON reply would land in its stream as a frame), so only JSON `message` events are chat.
      if (name === 'message' && event.dataType !== 'json') return undefined;
      const userId = context.userId;
      if (userId === undefined || userId === '') return refuse('forbidden');
      return chatEvents[name as keyof typeof chatEvents](event, context, userId);
    },

    async connected(context) {
      const rooms = roomsOf(context.state);
      context.log.info('connected', { hub: context.hub, connectionId: context.connectionId, rooms });
      await announce(context, rooms, 'online');
    },

    async disconnected(context, reason) {
      const rooms = roomsOf(context.state);
      context.log.info('disconnected', { hub: context.hub, connectionId: context.connectionId, reason });
      await announce(context, rooms, 'offline');
    },
  };
}
