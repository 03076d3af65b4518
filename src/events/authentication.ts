import { unauthorized } from '../protocol/errors';
import { CloudEventHeader } from '../protocol/headers';
import type { EventHeaders } from '../protocol/events';
import { createSignatureVerifier } from '../protocol/signature';
import type { CoreRequest } from '../http/types';

/** One way of proving that an event request comes from our Web PubSub resource. Throws 401 otherwise. */
export interface EventAuthenticator {
  readonly name: string;
  authenticate(request: CoreRequest, event: EventHeaders): void | Promise<void>;
}

/** Key mode: `ce-signature` must carry the HMAC of the connection id under one of our access keys. */
export function signatureAuthenticator(accessKeys: readonly string[]): EventAuthenticator {
  const verifier = createSignatureVerifier(accessKeys);
  return {
    name: 'signature',
    authenticate(_request, event) {
      if (event.signature === null || event.signature.trim() === '') {
        throw unauthorized('missing-signature', 'The ce-signature header is required.');
      }
      if (!verifier.verify(event.connectionId, event.signature)) {
        throw unauthorized(
          'invalid-signature',
          'The ce-signature header does not match any configured access key.',
        );
      }
    },
  };
}

/**
 * Keyless mode with managed-identity auth on the event handler: the service sends an Entra bearer token,
 * checked by `verify` (issuer, audience, signature, lifetime).
 */
export function bearerAuthenticator(verify: (token: string) => Promise<void>): EventAuthenticator {
  return {
    name: 'managed-identity',
    async authenticate(request) {
      const header = request.headers.get(CloudEventHeader.authorization);
      const match = header === null ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match?.[1])
        throw unauthorized('missing-token', 'A bearer token from the Web PubSub service is required.');
      await verify(match[1]);
    },
  };
}

/**
 * Keyless mode without managed-identity auth: the Functions platform checks the function key before we run,
 * and we insist that one was presented, so a registration or host that skips key checks (authLevel
 * anonymous, `func start`) fails closed instead of accepting every request.
 */
export function functionKeyAuthenticator(): EventAuthenticator {
  return {
    name: 'function-key',
    authenticate(request) {
      const presented =
        !!request.headers.get('x-functions-key')?.trim() ||
        !!new URL(request.url).searchParams.get('code')?.trim();
      if (!presented) {
        throw unauthorized(
          'missing-function-key',
          'Keyless mode needs the function key (?code=) or managed-identity authentication on the event handler.',
        );
      }
    },
  };
}
