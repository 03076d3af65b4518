import { ProblemError, unauthorized } from '../protocol/errors';
import type { HeaderSource } from '../protocol/headers';

/** A caller whose identity has been verified, with what their identity says about their rights. */
export interface Caller {
  userId: string;
  /** Role values from the identity's role claim (only Web PubSub roles among them grant anything). */
  roles: string[];
  /** Group values from the identity's group claim (groups this caller may ask to join). */
  groups: string[];
  /** The identity mode that recognised the caller. */
  via: 'bearer' | 'appservice' | 'anonymous';
}

/**
 * One way of recognising a caller. `identify` returns undefined when the request carries no credential of
 * its kind (the next mode is tried), and throws a 401 when it carries one that does not hold: a bad
 * credential never falls through to a weaker mode.
 */
export interface IdentityProvider {
  readonly name: Caller['via'];
  identify(headers: HeaderSource): Caller | undefined | Promise<Caller | undefined>;
}

export type Identify = (headers: HeaderSource) => Promise<Caller>;

const DESCRIPTIONS: Record<Caller['via'], string> = {
  bearer: 'a bearer token (Authorization: Bearer <token>)',
  appservice: 'an App Service Authentication session',
  anonymous: 'no credential',
};

/** Tries each mode in order; a request that none of them recognises is a 401 that says what would do. */
export function createIdentityChain(providers: readonly IdentityProvider[]): Identify {
  if (providers.length === 0) throw new Error('At least one identity provider is required');
  const accepted = providers.map((provider) => DESCRIPTIONS[provider.name]).join(' or ');
  const challenge: Record<string, string> = providers.some((provider) => provider.name === 'bearer')
    ? { 'www-authenticate': 'Bearer' }
    : {};
  return async (headers) => {
    for (const provider of providers) {
      const caller = await provider.identify(headers);
      if (caller !== undefined) return caller;
    }
    throw new ProblemError(
      401,
      'missing-credentials',
      'Unauthorized',
      `Sign in first: this endpoint needs ${accepted}.`,
      challenge,
    );
  };
}

/**
 * A claim by name, or by dotted path into nested objects when no claim has the whole name (Keycloak's
 * `realm_access.roles`). The whole name wins because claim names may contain dots (`webpubsub.group`, URIs).
 */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const record = value as Record<string, unknown>;
    if (!Object.hasOwn(record, part)) return undefined;
    value = record[part];
  }
  return value;
}

/** A claim's string values: a single string, or the strings of an array (anything else is ignored). */
export function stringValues(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value))
    return value.filter((item): item is string => typeof item === 'string' && item !== '');
  return [];
}

/** The user id claim: a non-empty string (or a number, which some issuers use for ids). */
export function userIdFrom(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function missingUserId(claim: string, headers: Readonly<Record<string, string>> = {}): ProblemError {
  const problem = unauthorized(
    'missing-user-id',
    `The identity has no usable "${claim}" claim to take the user id from.`,
  );
  return new ProblemError(problem.status, problem.code, problem.title, problem.detail, headers);
}
