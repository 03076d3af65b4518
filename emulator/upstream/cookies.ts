/**
 * The per-connection cookie jar of the service's upstream client: cookies an event handler sets come back
 * on that connection's later events (and only on that connection's). Attributes (Path, Domain, Expires)
 * are not applied beyond expiry on Max-Age=0 or a past Expires: every event of a hub goes to URLs the
 * same application configured.
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Applies Set-Cookie header values from a successful response. */
  store(setCookie: readonly string[] | undefined, now = Date.now()): void {
    if (setCookie === undefined) return;
    for (const line of setCookie) {
      const [pair = '', ...attributes] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals <= 0) continue;
      const name = pair.slice(0, equals).trim();
      const value = pair.slice(equals + 1).trim();
      if (name === '') continue;
      if (isExpired(attributes, now)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  /** The Cookie header value, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

function isExpired(attributes: readonly string[], now: number): boolean {
  for (const attribute of attributes) {
    const equals = attribute.indexOf('=');
    const name = (equals === -1 ? attribute : attribute.slice(0, equals)).trim().toLowerCase();
    const value = equals === -1 ? '' : attribute.slice(equals + 1).trim();
    if (name === 'max-age' && /^-?\d+$/.test(value) && Number(value) <= 0) return true;
    if (name === 'expires') {
      const time = Date.parse(value);
      if (!Number.isNaN(time) && time <= now) return true;
    }
  }
  return false;
}
