import { randomUUID } from 'node:crypto';
import type { IdentityProvider } from './caller';

/**
 * Anonymous callers, only when configured: every request gets a fresh user id made here. Whatever user id
 * the request itself names (`?userId=`, a header) is never read, so nobody can speak as someone else.
 */
export function anonymousIdentity(
  generateId: () => string = () => `anonymous-${randomUUID()}`,
): IdentityProvider {
  return {
    name: 'anonymous',
    identify: () => ({ userId: generateId(), roles: [], groups: [], via: 'anonymous' }),
  };
}
