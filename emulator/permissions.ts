/**
 * Client permissions from roles: `webpubsub.joinLeaveGroup` / `webpubsub.sendToGroup` (every group),
 * `webpubsub.<permission>.<group>` (one group, the rest of the role is the group name), and the wildcard
 * forms `webpubsub.joinLeaveGroups.<pattern>` / `webpubsub.sendToGroups.<pattern>`. Roles and group names
 * are case-sensitive.
 */
import { compileGroupPattern, parseRole, type GroupPermission } from '../src/protocol/roles';

export type Permission = GroupPermission;

interface Grants {
  all: boolean;
  groups: Set<string>;
  patterns: Map<string, RegExp>;
}

function emptyGrants(): Grants {
  return { all: false, groups: new Set(), patterns: new Map() };
}

export class RoleSet {
  readonly #grants: Record<Permission, Grants> = {
    joinLeaveGroup: emptyGrants(),
    sendToGroup: emptyGrants(),
  };
  /** Every role string as given, for the connect event's claims and for diagnostics. */
  readonly #roles = new Set<string>();

  constructor(roles: Iterable<string> = []) {
    for (const role of roles) this.add(role);
  }

  /** Adds a role; unknown roles are kept (the application may read them) but grant nothing. */
  add(role: string): void {
    this.#roles.add(role);
    const parsed = parseRole(role);
    if (parsed === undefined) return;
    const grants = this.#grants[parsed.permission];
    if (parsed.kind === 'hub') grants.all = true;
    else if (parsed.kind === 'group') grants.groups.add(parsed.group);
    else {
      const compiled = compileGroupPattern(parsed.pattern);
      if (compiled) grants.patterns.set(parsed.pattern, compiled);
    }
  }

  /** Grants a permission at runtime (REST): on one group, or on every group without a target. */
  grant(permission: Permission, group: string | undefined): void {
    this.add(group === undefined ? `webpubsub.${permission}` : `webpubsub.${permission}.${group}`);
  }

  /** Revokes exactly what grant() gave; wildcard roles from the token stay. */
  revoke(permission: Permission, group: string | undefined): void {
    const grants = this.#grants[permission];
    if (group === undefined) {
      grants.all = false;
      this.#roles.delete(`webpubsub.${permission}`);
    } else {
      grants.groups.delete(group);
      this.#roles.delete(`webpubsub.${permission}.${group}`);
    }
  }

  /** Literal per-group grants of one permission (the service caps them per connection). */
  literalCount(permission: Permission): number {
    return this.#grants[permission].groups.size;
  }

  hasLiteral(permission: Permission, group: string): boolean {
    return this.#grants[permission].groups.has(group);
  }

  /** Whether the connection may do `permission` on `group` (on every group when group is undefined). */
  can(permission: Permission, group: string | undefined): boolean {
    const grants = this.#grants[permission];
    if (grants.all) return true;
    if (group === undefined) return false;
    if (grants.groups.has(group)) return true;
    for (const pattern of grants.patterns.values()) if (pattern.test(group)) return true;
    return false;
  }

  list(): string[] {
    return [...this.#roles];
  }
}

/** `sendToGroup` / `joinLeaveGroup` as REST spells them, case-insensitively (also `1` and `2`). */
export function parsePermission(text: string): Permission | undefined {
  const lower = text.toLowerCase();
  if (lower === 'sendtogroup' || lower === '1') return 'sendToGroup';
  if (lower === 'joinleavegroup' || lower === '2') return 'joinLeaveGroup';
  return undefined;
}
