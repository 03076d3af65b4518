import { CloudEventHeader } from '../../src/protocol/headers';
import type { ClientConnection } from '../connection';
import { CONTENT_TYPE_OF, dataTypeOfMediaType, type Payload } from '../messages';
import { lastHeader, type EventDispatcher } from '../upstream/dispatcher';

export type UserEventResult =
  | { ok: true; reply: Payload | undefined }
  /** `reason` is for the log; clients only learn that the event failed. */
  | { ok: false; reason: string };

function isJson(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends a user event for a connection and reads the handler's answer: a 2xx body becomes a message to that
 * connection (its type from the Content-Type, binary when there is none), and `ce-connectionState` and
 * cookies are kept. A failure changes nothing on the connection.
 */
export async function sendUserEvent(
  dispatcher: EventDispatcher,
  connection: ClientConnection,
  eventName: string,
  payload: Payload,
): Promise<UserEventResult> {
  const outcome = await dispatcher.dispatch({
    type: 'user',
    eventName,
    id: connection.takeEventId(),
    context: connection,
    contentType: CONTENT_TYPE_OF[payload.dataType],
    body: payload.data,
    signal: connection.signal,
  });
  if (outcome.kind === 'unhandled') {
    return { ok: false, reason: `no event handler is configured for the user event "${eventName}"` };
  }
  if (outcome.kind === 'failed') return { ok: false, reason: outcome.reason };
  const { response } = outcome;
  if (response.status < 200 || response.status > 299) {
    return { ok: false, reason: `the event handler answered ${response.status}` };
  }
  let reply: Payload | undefined;
  if (response.body.length > 0) {
    const contentType = response.headers['content-type'];
    const dataType = contentType === undefined ? 'binary' : dataTypeOfMediaType(contentType);
    if (dataType === undefined) {
      return { ok: false, reason: `the event handler answered with an unsupported Content-Type` };
    }
    if (dataType === 'json' && !isJson(response.body)) {
      return { ok: false, reason: 'the event handler answered application/json that does not parse' };
    }
    reply = { dataType, data: response.body };
  }
  const state = lastHeader(response, CloudEventHeader.connectionState);
  if (state !== undefined) connection.state = state;
  connection.cookies.store(response.headers['set-cookie']);
  return { ok: true, reply };
}
