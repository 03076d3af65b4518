/**
 * Abuse protection: the service names itself in `WebHook-Request-Origin` (a host, sometimes a comma list);
 * we answer `WebHook-Allowed-Origin` only for hosts we expect. Hosts compare without scheme, port or case.
 */
export interface OriginPolicy {
  /** The first presented origin that is allowed, exactly as presented, or undefined. */
  match(requestOriginHeader: string): string | undefined;
  readonly allowsAny: boolean;
}

export function normalizeOriginHost(value: string): string {
  let host = value.trim().toLowerCase();
  const scheme = host.indexOf('://');
  if (scheme >= 0) host = host.slice(scheme + 3);
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end >= 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

export function splitOrigins(header: string): string[] {
  return header
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin.length > 0);
}

/** `allowed` holds hosts or URLs; the single entry `*` allows any origin. */
export function createOriginPolicy(allowed: readonly string[]): OriginPolicy {
  const allowsAny = allowed.includes('*');
  const hosts = new Set(allowed.filter((entry) => entry !== '*').map(normalizeOriginHost));
  // The service names itself the same way on every event: remember a few answers instead of re-parsing.
  const recent = new Map<string, string | undefined>();
  const decide = (requestOriginHeader: string): string | undefined => {
    for (const origin of splitOrigins(requestOriginHeader)) {
      if (allowsAny || hosts.has(normalizeOriginHost(origin))) return origin;
    }
    return undefined;
  };
  return {
    allowsAny,
    match(requestOriginHeader) {
      if (recent.has(requestOriginHeader)) return recent.get(requestOriginHeader);
      const answer = decide(requestOriginHeader);
      if (recent.size >= 16) recent.clear();
      recent.set(requestOriginHeader, answer);
      return answer;
    },
  };
}
