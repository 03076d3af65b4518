import type { ConnectionState } from '../protocol/connection-state';
import { groupNameProblem } from '../protocol/names';
import { compileGroupPattern, escapeGroupPattern } from '../protocol/roles';

/**
 * Rooms are Web PubSub groups. A connection remembers its rooms in connection state, which rides in an HTTP
 * header on every event, so both the number of rooms and the length of their names are kept small.
 */
export const MAX_ROOMS = 16;
export const MAX_ROOM_LENGTH = 64;

const ROOMS_KEY = 'rooms';
const USER_ID = '{userId}';

/** Whether `userId` may join `room`. */
export type RoomPolicy = (room: string, userId: string) => boolean;

/**
 * The rooms open to a user: the same patterns negotiate grants groups from (NegotiateAllowedGroups, Web
 * PubSub wildcard syntax, `{userId}` standing for the user's own id), so joining later is never wider than
 * negotiating at the start.
 */
export function createRoomPolicy(patterns: readonly string[]): RoomPolicy {
  const fixed: RegExp[] = [];
  const templates: string[] = [];
  for (const pattern of patterns) {
    if (pattern.includes(USER_ID)) {
      templates.push(pattern);
      continue;
    }
    const compiled = compileGroupPattern(pattern);
    if (compiled === undefined) throw new Error(`Invalid room pattern "${pattern}"`);
    fixed.push(compiled);
  }
  return (room, userId) => {
    if (fixed.some((pattern) => pattern.test(room))) return true;
    // A user id holding `*` or `?` must match only itself, never widen the pattern.
    const id = escapeGroupPattern(userId);
    return templates.some((template) => compileGroupPattern(template.split(USER_ID).join(id))?.test(room));
  };
}

/** A group name this app handles as a room: a valid group name of at most MAX_ROOM_LENGTH characters. */
export function isRoomName(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length <= MAX_ROOM_LENGTH && groupNameProblem(value) === undefined
  );
}

/** The rooms stored in the connection's state (anything malformed there counts as no room). */
export function roomsOf(state: ConnectionState): string[] {
  const value = state.get(ROOMS_KEY);
  return Array.isArray(value) ? value.filter(isRoomName) : [];
}

export function setRooms(state: ConnectionState, rooms: readonly string[]): void {
  if (rooms.length === 0) state.delete(ROOMS_KEY);
  else state.set(ROOMS_KEY, [...rooms]);
}
