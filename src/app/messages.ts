import type { UserEvent } from '../events/hooks';
import { isRoomName } from './rooms';

/** What the client sends (user events) and what it gets back, as in the chat contract. */
export const MAX_TEXT_LENGTH = 2000;

export type Refusal = 'invalid' | 'forbidden' | 'not-in-room' | 'rate-limited' | 'unavailable';

/** Messages the server sends to a room's group. */
export type RoomMessage =
  | { type: 'message'; id: string; room: string; from: string; text: string; at: string }
  | { type: 'typing'; room: string; userId: string }
  | { type: 'presence'; room: string; userId: string; status: 'online' | 'offline' };

/** The event's JSON object when it has exactly the allowed fields (some may be optional); else undefined. */
function objectWith(event: UserEvent, required: readonly string[]): Record<string, unknown> | undefined {
  if (event.dataType !== 'json') return undefined;
  const data = event.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const record = data as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== required.length || !required.every((key) => keys.includes(key))) return undefined;
  return record;
}

/** `{ room }` of join, leave and typing. */
export function parseRoomEvent(event: UserEvent): { room: string } | undefined {
  const record = objectWith(event, ['room']);
  return record && isRoomName(record.room) ? { room: record.room } : undefined;
}

/** `{ room, text }` of message; the text is trimmed, and must then be 1 to MAX_TEXT_LENGTH characters. */
export function parseChatMessage(event: UserEvent): { room: string; text: string } | undefined {
  const record = objectWith(event, ['room', 'text']);
  if (!record || !isRoomName(record.room) || typeof record.text !== 'string') return undefined;
  const text = record.text.trim();
  if (text.length === 0 || text.length > MAX_TEXT_LENGTH) return undefined;
  return { room: record.room, text };
}
