import type { Caller } from '../identity/caller';
import { badRequest, forbidden } from '../protocol/errors';
import { isValidGroupName, isValidHubName, normalizeHubName } from '../protocol/names';
import {
  compileGroupPattern,
  escapeGroupPattern,
  groupRole,
  parseRole,
  type GroupPermission,
} from '../protocol/roles';
import { CLIENT_PROTOCOLS, type ClientProtocol, type Grant } from './types';

export interface NegotiatePolicyOptions {
  hubs: readonly string[];
  defaultHub: string;
  /** Group patterns a caller may ask to join; `{userId}` stands for the caller's (escaped) user id. */
  allowedGroups: readonly string[];
  /** Roles every caller gets; `{userId}` stands for the caller's user id (escaped inside patterns). */
  roles: readonly string[];
  /** Per-group roles given on each granted group. */
  groupPermissions: readonly GroupPermission[];
  allowHubWideRoles: boolean;
  tokenLifetimeMinutes: number;
  /** Most groups one request may ask for (the token carries them all). */
  maxGroups?: number;
}

export interface NegotiatePolicy {
  /** What the caller gets for these query parameters; throws 400 (malformed) or 403 (not allowed). */
  decide(query: URLSearchParams, caller: Caller): Grant;
}

const PLACEHOLDER = '{userId}';
const DEFAULT_MAX_GROUPS = 32;

type GroupRule = { fixed: RegExp } | { template: string };
type RoleTemplate = { role: string } | { before: string; after: string; escape: boolean };

/**
 * Negotiate's authorisation: the hub must be one this app serves, every requested group must be allowed for
 * this caller (by the configured patterns or the identity's group claim), and the token's roles are exactly
 * the configured ones, the caller's Web PubSub roles, and narrow per-group roles for the granted groups.
 * Hub-wide roles (every group of the hub) are granted only when configuration opts in; a caller's claim that
 * asks for one is dropped otherwise. A request with any refused part gets nothing.
 */
export function createNegotiatePolicy(options: NegotiatePolicyOptions): NegotiatePolicy {
  const hubs = new Map(options.hubs.map((hub) => [normalizeHubName(hub), hub]));
  const maxGroups = options.maxGroups ?? DEFAULT_MAX_GROUPS;
  const groupRules: GroupRule[] = options.allowedGroups.map((pattern) => {
    if (pattern.includes(PLACEHOLDER)) return { template: pattern };
    const fixed = compileGroupPattern(pattern);
    if (fixed === undefined) throw new Error(`Invalid group pattern "${pattern}"`);
    return { fixed };
  });
  const roleTemplates: RoleTemplate[] = options.roles.map((role) => {
    const at = role.indexOf(PLACEHOLDER);
    if (at < 0) return { role };
    const kind = parseRole(role.split(PLACEHOLDER).join('u'))?.kind;
    return {
      before: role.slice(0, at),
      after: role.slice(at + PLACEHOLDER.length),
      // Inside a pattern role, a user id with `*` or `?` must match only itself.
      escape: kind === 'pattern',
    };
  });

  function hubOf(query: URLSearchParams): string {
    const requested = single(query, 'hub');
    if (requested === undefined) return options.defaultHub;
    if (!isValidHubName(requested))
      throw badRequest('invalid-hub', `${quote(requested)} is not a valid hub name.`);
    const hub = hubs.get(normalizeHubName(requested));
    if (hub === undefined)
      throw forbidden('hub-not-allowed', `Hub ${quote(requested)} is not open to clients here.`);
    return hub;
  }

  function protocolOf(query: URLSearchParams): ClientProtocol {
    const requested = single(query, 'protocol');
    if (requested === undefined) return 'default';
    const protocol = CLIENT_PROTOCOLS.find((known) => known === requested.toLowerCase());
    if (protocol === undefined) {
      throw badRequest(
        'invalid-protocol',
        `protocol must be default, mqtt or socketio, not ${quote(requested)}.`,
      );
    }
    return protocol;
  }

  function groupAllowed(group: string, caller: Caller): boolean {
    if (caller.groups.includes(group)) return true;
    for (const rule of groupRules) {
      if ('fixed' in rule) {
        if (rule.fixed.test(group)) return true;
      } else {
        const pattern = rule.template.split(PLACEHOLDER).join(escapeGroupPattern(caller.userId));
        if (compileGroupPattern(pattern)?.test(group)) return true;
      }
    }
    return false;
  }

  function groupsOf(query: URLSearchParams, caller: Caller): string[] {
    const groups = new Set<string>();
    for (const value of query.getAll('groups')) {
      for (const item of value.split(',')) {
        const group = item.trim();
        if (group === '') continue;
        if (!isValidGroupName(group))
          throw badRequest('invalid-group', `${quote(group)} is not a valid group name.`);
        groups.add(group);
      }
    }
    if (groups.size > maxGroups) {
      throw badRequest('too-many-groups', `At most ${maxGroups} groups may be requested at once.`);
    }
    for (const group of groups) {
      if (!groupAllowed(group, caller)) {
        throw forbidden('group-not-allowed', `Group ${quote(group)} is not open to this caller.`);
      }
    }
    return [...groups];
  }

  function rolesOf(caller: Caller, groups: readonly string[]): string[] {
    const roles = new Set<string>();
    for (const template of roleTemplates) {
      if ('role' in template) roles.add(template.role);
      else {
        const id = template.escape ? escapeGroupPattern(caller.userId) : caller.userId;
        roles.add(template.before + id + template.after);
      }
    }
    for (const role of caller.roles) {
      // Application roles (admin, reader...) mean nothing to the service; only its own roles are passed on.
      const parsed = parseRole(role);
      if (parsed === undefined) continue;
      if (parsed.kind === 'hub' && !options.allowHubWideRoles) continue;
      roles.add(role);
    }
    for (const group of groups) {
      for (const permission of options.groupPermissions) roles.add(groupRole(permission, group));
    }
    return [...roles];
  }

  return {
    decide(query, caller) {
      const hub = hubOf(query);
      const protocol = protocolOf(query);
      const groups = groupsOf(query, caller);
      return {
        hub,
        userId: caller.userId,
        groups,
        roles: rolesOf(caller, groups),
        protocol,
        lifetimeMinutes: options.tokenLifetimeMinutes,
      };
    },
  };
}

function single(query: URLSearchParams, name: string): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw badRequest('invalid-query', `The ${name} parameter is given more than once.`);
  const value = values[0]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A caller-supplied value in a detail: quoted, and cut short so a huge value cannot bloat the answer. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}
