import { GROUP_PERMISSIONS, type GroupPermission } from './roles';

/** Name rules of the Web PubSub data plane (REST spec, api-version 2024-12-01). */
const HUB_PATTERN = /^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$/;

export const MAX_GROUP_NAME_LENGTH = 1024;

export function isValidHubName(name: string): boolean {
  return HUB_PATTERN.test(name);
}

/** One rule for every group name we accept or emit: the connect response, negotiate, push, the emulator. */
export function isValidGroupName(name: string): boolean {
  return groupNameProblem(name) === undefined;
}

/** Hubs compare case-insensitively, as the service and both official handler libraries do. */
export function normalizeHubName(name: string): string {
  return name.toLowerCase();
}

/** Why a hub name breaks the REST spec's pattern, or undefined when it is valid. */
export function hubNameProblem(name: string): string | undefined {
  if (HUB_PATTERN.test(name)) return undefined;
  return 'must start with a letter and hold at most 128 letters, digits and _`,.[] characters';
}

/**
 * Why a group name breaks the REST spec's rule (1–1024 characters, pattern `^(?!\s+$).+$`), or undefined.
 * The pattern's `.` excludes line terminators, so a name with a line break is refused too.
 */
export function groupNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_GROUP_NAME_LENGTH) return `must be at most ${MAX_GROUP_NAME_LENGTH} characters long`;
  if (name.trim().length === 0) return 'must not be blank';
  if (/[\n\r\u2028\u2029]/.test(name)) return 'must not contain line breaks';
  return undefined;
}

/** User ids and connection ids: the REST spec asks only for at least one character. */
export function isValidUserId(id: string): boolean {
  return id.length > 0;
}

export function isValidConnectionId(id: string): boolean {
  return id.length > 0;
}

/** The permissions a connection can be granted at run time (REST `permission` path parameter): the group ones. */
export const CONNECTION_PERMISSIONS = GROUP_PERMISSIONS;
export type ConnectionPermission = GroupPermission;

export function isConnectionPermission(value: string): value is ConnectionPermission {
  return (CONNECTION_PERMISSIONS as readonly string[]).includes(value);
}

/** `messageTtlSeconds` of the send operations: 0 (never expires) to 300. */
export const MAX_MESSAGE_TTL_SECONDS = 300;

/** The largest REST message body the service takes (1 MiB; one byte more is refused with 413). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
