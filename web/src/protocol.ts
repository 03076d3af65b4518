/**
 * The shapes of the chat app's messages (the contract shared with src/app): what the page sends
 * as user events and what the server sends back. Everything from the wire is `unknown` until a guard here
 * has looked at it.
 */

export const ROOMS = ['lobby', 'room.general', 'room.random', 'staff'] as const;

export type ChatMessage = {
  type: 'message';
  id: string;
  room: string;
  from: string;
  text: string;
  at: string;
};
export type TypingNotice = { type: 'typing'; room: string; userId: string };
export type PresenceNotice = {
  type: 'presence';
  room: string;
  userId: string;
  status: 'online' | 'offline';
};
export type RoomPayload = ChatMessage | TypingNotice | PresenceNotice;

/** The handler's answer to a user event; which fields are present depends on the event. */
export type EventReply = {
  ok: boolean;
  room?: string;
  members?: string[];
  id?: string;
  error?: string;
  retryAfterMs?: number;
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

export function isEventReply(value: unknown): value is EventReply {
  return isRecord(value) && typeof value.ok === 'boolean';
}

export function asRoomPayload(value: unknown): RoomPayload | undefined {
  if (!isRecord(value) || !isString(value.room)) return undefined;
  switch (value.type) {
    case 'message':
      return isString(value.id) && isString(value.from) && isString(value.text) && isString(value.at)
        ? (value as ChatMessage)
        : undefined;
    case 'typing':
      return isString(value.userId) ? (value as TypingNotice) : undefined;
    case 'presence':
      return isString(value.userId) && (value.status === 'online' || value.status === 'offline')
        ? (value as PresenceNotice)
        : undefined;
    default:
      return undefined;
  }
}

export function membersOf(reply: EventReply): string[] {
  return Array.isArray(reply.members) ? reply.members.filter(isString) : [];
}

/** A push as a person reads it: `{title, text}` bodies get a heading, anything else is shown as sent. */
export function describePush(data: unknown): { title: string; text: string } {
  if (isRecord(data) && (isString(data.title) || isString(data.text))) {
    return {
      title: isString(data.title) ? data.title : 'Notification',
      text: isString(data.text) ? data.text : '',
    };
  }
  if (isString(data)) return { title: 'Notification', text: data };
  if (data instanceof ArrayBuffer)
    return { title: 'Notification', text: `${data.byteLength} bytes of binary data` };
  return { title: 'Notification', text: JSON.stringify(data) };
}
