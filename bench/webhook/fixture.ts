import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadRequest } from '../lib/load';
import { repoRoot } from '../lib/paths';

/**
 * The request mix of the webhook benchmark, shared by the load generator and the servers. The signature is
 * the externally computed vector (never one computed by src/), so "ours" verifies a real service signature.
 */
interface SignatureVector {
  connectionId: string;
  accessKey: string;
  hex: string;
}

function loadVector(index: number): SignatureVector {
  const file = join(repoRoot, 'test', 'fixtures', 'signature-vectors.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { vectors?: Partial<SignatureVector>[] };
  const vector = parsed.vectors?.[index];
  if (
    typeof vector?.connectionId !== 'string' ||
    typeof vector.accessKey !== 'string' ||
    typeof vector.hex !== 'string'
  ) {
    throw new Error(`${file} has no signature vector at index ${index}`);
  }
  return vector as SignatureVector;
}

// Vector 1: connection 0f9c97a2f0bf4706afe87a14e0797b11, key 7aab239577fd4f24bc919802fb629f5f.
const VECTOR = loadVector(1);

export const ACCESS_KEY = VECTOR.accessKey;
export const CONNECTION_ID = VECTOR.connectionId;
export const SIGNATURE = `sha256=${VECTOR.hex}`;
export const HUB = 'chat';
export const ORIGIN = 'myresource.webpubsub.azure.com';
/** The one route all three servers are asked on, so the load generator sends the same bytes to each. */
export const EVENTS_PATH = '/api/webpubsub/events';
export const USER_ID = 'user1';
export const ROOM = 'lobby';
export const USER_EVENT_TEXT = 'Hello, Web PubSub! A chat line of ordinary length for a user event.';

/** What the connect hook of both real servers answers for CONNECT_BODY. */
export const EXPECTED_CONNECT_REPLY = { userId: USER_ID, groups: [ROOM] };

function headers(ceType: string, eventName: string, contentType: string): Record<string, string> {
  return {
    'webhook-request-origin': ORIGIN,
    'ce-specversion': '1.0',
    'ce-awpsversion': '1.0',
    'ce-type': ceType,
    'ce-source': `/hubs/${HUB}/client/${CONNECTION_ID}`,
    'ce-id': '1',
    'ce-time': '2021-01-01T00:00:00Z',
    'ce-hub': HUB,
    'ce-connectionid': CONNECTION_ID,
    'ce-userid': USER_ID,
    'ce-eventname': eventName,
    'ce-signature': SIGNATURE,
    'content-type': contentType,
  };
}

/** The connect body of the documentation example (as test/support/cloud-events.ts builds it). */
const CONNECT_BODY = JSON.stringify({
  claims: { sub: [USER_ID], role: ['webpubsub.joinLeaveGroup'] },
  query: { room: [ROOM] },
  headers: { 'user-agent': ['test'] },
  subprotocols: ['json.webpubsub.azure.v1', 'protocol2'],
  clientCertificates: [
    { thumbprint: 'ABC', content: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----' },
  ],
});

export interface MixRequest {
  kind: 'connect' | 'user';
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export const CONNECT_REQUEST: MixRequest = {
  kind: 'connect',
  method: 'POST',
  path: EVENTS_PATH,
  headers: headers('azure.webpubsub.sys.connect', 'connect', 'application/json; charset=utf-8'),
  body: CONNECT_BODY,
};

export const USER_EVENT_REQUEST: MixRequest = {
  kind: 'user',
  method: 'POST',
  path: EVENTS_PATH,
  headers: headers('azure.webpubsub.user.message', 'message', 'text/plain; charset=utf-8'),
  body: USER_EVENT_TEXT,
};

/** What one Web PubSub connection sends its webhook here: a connect, then a user event. */
export const REQUEST_MIX: readonly MixRequest[] = [CONNECT_REQUEST, USER_EVENT_REQUEST];

export interface SignedConnection {
  connectionId: string;
  signature: string;
}

/**
 * Connections as the service would sign them, so each connect in a run is a connection the webhook has never
 * seen (it remembers recently verified connections; a benchmark that reused one id would measure only that
 * memory). Signed here with node:crypto by the documented formula, independently of src/; the pool is larger
 * than anything a webhook remembers, and a connection's user events reuse its id, as on the wire.
 */
export function signedConnections(count: number): SignedConnection[] {
  return Array.from({ length: count }, (_, i) => {
    const connectionId = `bench-${i.toString(36)}-${CONNECTION_ID}`;
    const digest = createHmac('sha256', Buffer.from(ACCESS_KEY, 'utf8')).update(connectionId).digest('hex');
    return { connectionId, signature: `sha256=${digest}` };
  });
}

/** A request of the mix as it comes from one connection: its id, its signature, its source. */
export function withConnection(request: MixRequest, connection: SignedConnection): LoadRequest {
  return {
    method: request.method,
    path: request.path,
    body: request.body,
    headers: {
      ...request.headers,
      'ce-connectionid': connection.connectionId,
      'ce-signature': connection.signature,
      'ce-source': `/hubs/${HUB}/client/${connection.connectionId}`,
    },
  };
}
