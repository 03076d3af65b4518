/**
 * What a connection receives, encoded once per send and per protocol: a broadcast to a thousand JSON
 * clients builds its frame once; reliable clients add only their sequence id to a shared prefix.
 */
import type { DataType } from '../src/protocol/events';

export type { DataType };
export { CONTENT_TYPE_OF } from '../src/protocol/events';

/** A message body: for `json`, the bytes are JSON text that has been checked to parse. */
export interface Payload {
  dataType: DataType;
  data: Buffer;
}

export type MessageSource =
  { from: 'server' } | { from: 'group'; group: string; fromUserId: string | undefined };

export interface RawFrame {
  data: Buffer;
  binary: boolean;
}

function jsonData(payload: Payload): string {
  switch (payload.dataType) {
    case 'text':
      return JSON.stringify(payload.data.toString('utf8'));
    case 'json':
      return payload.data.toString('utf8');
    case 'binary':
      return `"${payload.data.toString('base64')}"`;
  }
}

export class Delivery {
  readonly payload: Payload;
  readonly source: MessageSource;
  #json: Buffer | undefined;
  #reliablePrefix: Buffer | undefined;

  constructor(payload: Payload, source: MessageSource) {
    this.payload = payload;
    this.source = source;
  }

  /** Simple WebSocket clients get the bytes alone: text and JSON as a text frame, binary as binary. */
  raw(): RawFrame {
    return { data: this.payload.data, binary: this.payload.dataType === 'binary' };
  }

  #envelope(): string {
    const { source, payload } = this;
    let head = `{"type":"message","from":"${source.from}"`;
    if (source.from === 'group') {
      head += `,"group":${JSON.stringify(source.group)}`;
      if (source.fromUserId !== undefined) head += `,"fromUserId":${JSON.stringify(source.fromUserId)}`;
    }
    return `${head},"dataType":"${payload.dataType}","data":${jsonData(payload)}`;
  }

  /** `json.webpubsub.azure.v1`: the message envelope. */
  json(): Buffer {
    this.#json ??= Buffer.from(`${this.#envelope()}}`, 'utf8');
    return this.#json;
  }

  /** `json.reliable.webpubsub.azure.v1`: the envelope with this connection's sequence id. */
  reliable(sequenceId: number): Buffer {
    this.#reliablePrefix ??= Buffer.from(`${this.#envelope()},"sequenceId":`, 'utf8');
    const prefix = this.#reliablePrefix;
    const tail = `${sequenceId}}`;
    const frame = Buffer.allocUnsafe(prefix.length + tail.length);
    prefix.copy(frame, 0);
    frame.write(tail, prefix.length, 'latin1');
    return frame;
  }
}

export function ackMessage(ackId: number, error?: { name: string; message: string }): string {
  return error === undefined
    ? `{"type":"ack","ackId":${ackId},"success":true}`
    : JSON.stringify({ type: 'ack', ackId, success: false, error });
}

export function connectedMessage(
  connectionId: string,
  userId: string | undefined,
  reconnectionToken: string | undefined,
): string {
  return JSON.stringify({
    type: 'system',
    event: 'connected',
    userId: userId ?? null,
    connectionId,
    ...(reconnectionToken === undefined ? {} : { reconnectionToken }),
  });
}

export function disconnectedMessage(message: string): string {
  return JSON.stringify({ type: 'system', event: 'disconnected', message });
}

export const PONG_MESSAGE = '{"type":"pong"}';

/** Payload type from a Content-Type (media type only, parameters ignored); undefined if unsupported. */
export function dataTypeOfMediaType(contentType: string | undefined): DataType | undefined {
  if (contentType === undefined) return undefined;
  const media = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (media === 'text/plain') return 'text';
  if (media === 'application/json') return 'json';
  if (media === 'application/octet-stream') return 'binary';
  return undefined;
}
