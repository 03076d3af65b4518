import type { ConnectionState } from '../protocol/connection-state';
import type {
  ClientProtocol,
  ConnectEventBody,
  ConnectRejectionStatus,
  ConnectResult,
} from '../protocol/events';
import type { Logger } from '../http/types';

export type { ConnectResult } from '../protocol/events';

/** What every hook learns about the connection and the event. */
export interface EventContext {
  readonly hub: string;
  readonly connectionId: string;
  readonly userId: string | undefined;
  readonly eventName: string;
  /** `ce-id`: with the connection id, identifies the event across the service's retries. */
  readonly eventId: string;
  readonly subprotocol: string | undefined;
  readonly origin: string;
  readonly clientProtocol: ClientProtocol;
  readonly mqtt:
    { readonly physicalConnectionId: string; readonly sessionId: string | undefined } | undefined;
  /** Read what earlier events stored; set or delete keys in connect and user events. */
  readonly state: ConnectionState;
  readonly log: Logger;
}

export interface ConnectEvent extends ConnectEventBody {
  readonly context: EventContext;
}

export type EventData =
  | { readonly dataType: 'text'; readonly data: string }
  | { readonly dataType: 'json'; readonly data: unknown }
  | { readonly dataType: 'binary'; readonly data: Uint8Array };

export type UserEvent = EventData & { readonly context: EventContext };

/** A reply goes back to the sending connection as a server message. */
export type UserEventReply = EventData;

/** A typed refusal of a connect; the service returns the status to the client's upgrade request. */
export class ConnectRejection {
  constructor(
    readonly status: ConnectRejectionStatus,
    readonly reason: string,
  ) {}
}

export const rejectConnect = (status: ConnectRejectionStatus, reason: string): ConnectRejection =>
  new ConnectRejection(status, reason);

type MaybePromise<T> = T | Promise<T>;

/**
 * What an application does on each event. Every hook is optional: a missing connect accepts with the
 * token's identity (204), a missing user-event hook acknowledges without reply (204).
 */
export interface WebhookHooks {
  connect?(event: ConnectEvent): MaybePromise<ConnectResult | ConnectRejection | undefined>;
  userEvent?(event: UserEvent): MaybePromise<UserEventReply | undefined>;
  connected?(context: EventContext): MaybePromise<void>;
  disconnected?(context: EventContext, reason: string | undefined): MaybePromise<void>;
}
