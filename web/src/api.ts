/** The two HTTP calls before a connection: sign in with the development issuer, then negotiate. */

export type Negotiated = {
  url: string;
  userId: string;
  groups: string[];
};

/** A refusal the person should read: the server's own words (problem+json `detail`) where it gave some. */
export class RefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RefusedError';
  }
}

async function refusal(response: Response, what: string): Promise<RefusedError> {
  let reason = `${what} failed with HTTP ${response.status}`;
  try {
    const body: unknown = await response.json();
    if (typeof body === 'object' && body !== null) {
      const { detail, title, error_description: description } = body as Record<string, unknown>;
      const text = [detail, description, title].find((item) => typeof item === 'string' && item !== '');
      if (typeof text === 'string') reason = `${what} refused (HTTP ${response.status}): ${text}`;
    }
  } catch {
    // Not JSON: the status line is all there is to show.
  }
  return new RefusedError(response.status, reason);
}

/** The development issuer signs a token for any name: the local stack's stand-in for a real sign-in. */
export async function signIn(name: string): Promise<string> {
  const response = await fetch('/.dev-issuer/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub: name, name }),
  });
  if (!response.ok) throw await refusal(response, 'Sign-in');
  const body = (await response.json()) as { access_token?: unknown };
  if (typeof body.access_token !== 'string') throw new Error('Sign-in answered without an access token');
  return body.access_token;
}

export async function negotiate(accessToken: string, rooms: readonly string[]): Promise<Negotiated> {
  const query = new URLSearchParams({ groups: rooms.join(',') });
  const response = await fetch(`/api/negotiate?${query.toString()}`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  if (!response.ok) throw await refusal(response, 'Negotiate');
  const body = (await response.json()) as Partial<Record<keyof Negotiated, unknown>>;
  if (typeof body.url !== 'string' || typeof body.userId !== 'string') {
    throw new Error('Negotiate answered without a client URL and user id');
  }
  const groups = Array.isArray(body.groups)
    ? body.groups.filter((group): group is string => typeof group === 'string')
    : [...rooms];
  return { url: body.url, userId: body.userId, groups };
}
