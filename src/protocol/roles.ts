/**
 * Web PubSub client roles (concept-client-protocols, "Permissions"): what a connection may do with groups.
 *
 * - `webpubsub.joinLeaveGroup` / `webpubsub.sendToGroup`: every group of the hub (hub-wide);
 * - `webpubsub.joinLeaveGroup.<group>` / `webpubsub.sendToGroup.<group>`: that one group;
 * - `webpubsub.joinLeaveGroups.<pattern>` / `webpubsub.sendToGroups.<pattern>`: groups matching a pattern,
 *   where `?` is one character other than `.`, `*` a run without `.`, `**` any run, and `\` escapes `*`,
 *   `?` and `\`; at most five `*` per pattern; case-sensitive.
 */
export type GroupPermission = 'joinLeaveGroup' | 'sendToGroup';

export const GROUP_PERMISSIONS: readonly GroupPermission[] = ['joinLeaveGroup', 'sendToGroup'];

export const MAX_PATTERN_STARS = 5;

export type ParsedRole =
  | { kind: 'hub'; permission: GroupPermission }
  | { kind: 'group'; permission: GroupPermission; group: string }
  | { kind: 'pattern'; permission: GroupPermission; pattern: string };

/** The role's meaning, or undefined when it is not a Web PubSub group role (or its pattern is invalid). */
export function parseRole(role: string): ParsedRole | undefined {
  for (const permission of GROUP_PERMISSIONS) {
    const base = `webpubsub.${permission}`;
    if (role === base) return { kind: 'hub', permission };
    if (role.startsWith(`${base}.`)) {
      const group = role.slice(base.length + 1);
      return group.length > 0 ? { kind: 'group', permission, group } : undefined;
    }
    if (role.startsWith(`${base}s.`)) {
      const pattern = role.slice(base.length + 2);
      return compileGroupPattern(pattern) ? { kind: 'pattern', permission, pattern } : undefined;
    }
  }
  return undefined;
}

export function groupRole(permission: GroupPermission, group: string): string {
  return `webpubsub.${permission}.${group}`;
}

/**
 * A group pattern as a RegExp, or undefined when the pattern is invalid (empty, a dangling or unknown escape,
 * more than five stars). Written by hand because no library implements the service's wildcard dialect.
 */
export function compileGroupPattern(pattern: string): RegExp | undefined {
  if (pattern.length === 0) return undefined;
  let source = '';
  let stars = 0;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '?' && next !== '\\') return undefined;
      source += `\\${next}`;
      i++;
    } else if (char === '*') {
      if (pattern[i + 1] === '*') {
        source += '.*';
        stars += 2;
        i++;
      } else {
        source += '[^.]*';
        stars += 1;
      }
    } else if (char === '?') {
      source += '[^.]';
    } else {
      source += char.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
    }
  }
  if (stars > MAX_PATTERN_STARS) return undefined;
  // `s`: group names may contain line breaks, and `.*` must cross them as the service's `**` does.
  return new RegExp(`^${source}$`, 's');
}

/** A literal text escaped so that a pattern matches exactly it (user ids placed into patterns). */
export function escapeGroupPattern(text: string): string {
  return text.replace(/[\\*?]/g, '\\$&');
}
