/** Name rules of the Web PubSub data plane (REST spec, api-version 2024-12-01). */
const HUB_PATTERN = /^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$/;

export const MAX_GROUP_NAME_LENGTH = 1024;

export function isValidHubName(name: string): boolean {
  return HUB_PATTERN.test(name);
}

export function isValidGroupName(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_GROUP_NAME_LENGTH && name.trim().length > 0;
}

/** Hubs compare case-insensitively, as the service and both official handler libraries do. */
export function normalizeHubName(name: string): string {
  return name.toLowerCase();
}
