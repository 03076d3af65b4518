import { WebPubSubClient } from '@azure/web-pubsub-client';
import { asRoomPayload, isEventReply, type EventReply, type RoomPayload } from './protocol';

export type ConnectionStatus = 'connecting…' | 'connected' | 'reconnecting…' | 'disconnected';

export interface ConnectionHandlers {
  status(status: ConnectionStatus): void;
  /** Each new connection: the page re-joins its rooms, since a new connection starts in the token's only. */
  connected(connectionId: string): void;
  room(payload: RoomPayload): void;
  notification(data: unknown): void;
}

type InFlight = { reply: EventReply | undefined };

/**
 * One Web PubSub client connection with the chat's user events on top.
 *
 * The SDK's `sendEvent` resolves on the service's ack, which carries no data; the handler's answer reaches
 * the caller as a server message just before that ack. Events therefore go out one at a time, and the
 * reply-shaped server message seen while one is in flight is its answer (everything else is a push).
 */
export class ChatConnection {
  private readonly client: WebPubSubClient;
  private readonly watcher: SocketWatcher;
  private inFlight: InFlight | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private everConnected = false;

  constructor(
    url: string,
    private readonly handlers: ConnectionHandlers,
  ) {
    // No automatic resend: a chat message whose ack was lost might have been posted already, and the
    // person can press Send again after reading the error.
    this.client = new WebPubSubClient(url, { messageRetryOptions: { maxRetries: 0 } });
    this.watcher = watchSockets({
      opened: (url) => {
        // The SDK raises no event when the reliable protocol recovers a dropped connection: the reopened
        // recovery socket is the news. A new connection's socket waits for the SDK's `connected` instead.
        const recovery = new URL(url).searchParams.has('awps_connection_id');
        if (recovery && this.everConnected && !this.stopping) handlers.status('connected');
      },
      closed: () => {
        if (!this.stopping) handlers.status('reconnecting…');
      },
    });
    this.client.on('connected', (event) => {
      this.everConnected = true;
      handlers.status('connected');
      handlers.connected(event.connectionId);
    });
    this.client.on('disconnected', () => {
      // autoReconnect is on (the default): a disconnect is followed by attempts until `stopped`.
      if (!this.stopping) handlers.status('reconnecting…');
    });
    this.client.on('stopped', () => {
      handlers.status('disconnected');
    });
    this.client.on('group-message', (event) => {
      const payload = asRoomPayload(event.message.data);
      if (payload) handlers.room(payload);
      else handlers.notification(event.message.data);
    });
    this.client.on('server-message', (event) => {
      const { data } = event.message;
      const slot = this.inFlight;
      if (slot && slot.reply === undefined && isEventReply(data)) {
        slot.reply = data;
        return;
      }
      handlers.notification(data);
    });
  }

  async start(): Promise<void> {
    this.handlers.status('connecting…');
    await this.client.start();
  }

  stop(): void {
    this.stopping = true;
    this.client.stop();
  }

  /** Closes the socket as a network failure would, so the reconnection can be watched (the page's button). */
  dropSocket(): void {
    this.watcher.current()?.close(4000, 'connection dropped on purpose');
  }

  /** Sends a user event and resolves with the handler's reply (undefined when it sent none). */
  send(event: string, data: Record<string, string>): Promise<EventReply | undefined> {
    const run = async (): Promise<EventReply | undefined> => {
      const slot: InFlight = { reply: undefined };
      this.inFlight = slot;
      try {
        await this.client.sendEvent(event, data, 'json', { fireAndForget: false });
        return slot.reply;
      } finally {
        this.inFlight = undefined;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

interface SocketWatcher {
  current(): WebSocket | undefined;
}

type SocketListeners = { opened(url: string): void; closed(): void };
type WatchState = { current: WebSocket | undefined; listeners: SocketListeners };
let installed: WatchState | undefined;

/**
 * The SDK keeps its WebSocket private, so the page wraps the constructor it calls (the global one) to see
 * the socket open and close. Installed once; the latest ChatConnection's listeners are the live ones.
 */
function watchSockets(listeners: SocketListeners): SocketWatcher {
  if (installed) {
    installed.listeners = listeners;
    installed.current = undefined;
  } else {
    const state: WatchState = { current: undefined, listeners };
    installed = state;
    const Native = globalThis.WebSocket;
    class WatchedWebSocket extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        state.current = this;
        this.addEventListener('open', () => {
          if (state.current === this) state.listeners.opened(this.url);
        });
        this.addEventListener('close', () => {
          if (state.current === this) state.listeners.closed();
        });
      }
    }
    globalThis.WebSocket = WatchedWebSocket;
  }
  const state = installed;
  return { current: () => state.current };
}
