/** The one thing the protocol needs from an HTTP request's headers: case-insensitive lookup. */
export interface HeaderSource {
  get(name: string): string | null;
}

/** Header names of the Web PubSub CloudEvents binding (lower-case: how Node and Headers report them). */
export const CloudEventHeader = {
  specVersion: 'ce-specversion',
  awpsVersion: 'ce-awpsversion',
  type: 'ce-type',
  source: 'ce-source',
  id: 'ce-id',
  time: 'ce-time',
  hub: 'ce-hub',
  connectionId: 'ce-connectionid',
  userId: 'ce-userid',
  eventName: 'ce-eventname',
  subprotocol: 'ce-subprotocol',
  connectionState: 'ce-connectionstate',
  signature: 'ce-signature',
  physicalConnectionId: 'ce-physicalconnectionid',
  sessionId: 'ce-sessionid',
  requestOrigin: 'webhook-request-origin',
  allowedOrigin: 'WebHook-Allowed-Origin',
  contentType: 'content-type',
  contentLength: 'content-length',
  authorization: 'authorization',
} as const;

/**
 * Node's HTTP parser hands header bytes over as latin1, so a UTF-8 user id (which the service sends raw)
 * arrives as mojibake. Re-decode only when every code unit is a byte and the bytes form valid UTF-8 with at
 * least one multi-byte sequence; anything else is returned unchanged.
 */
export function decodeUtf8HeaderValue(value: string): string {
  let hasHighByte = false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0xff) return value;
    if (code > 0x7f) hasHighByte = true;
  }
  if (!hasHighByte) return value;
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
