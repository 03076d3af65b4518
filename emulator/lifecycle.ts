import type { EmulatorConfig, EmulatorLimits } from './config';
import type { ClientConnection, ConnectionOwner } from './connection';
import type { Registry } from './registry';
import type { EventContext, EventDispatcher, UpstreamEvent } from './upstream/dispatcher';

const JSON_TYPE = 'application/json; charset=utf-8';
// On shutdown the last disconnected events get one short attempt each, so close() cannot hang on a
// handler that is down.
const SHUTDOWN_ATTEMPT_MS = 2000;

/**
 * Registers connections and tells the upstream about their life: `connected` once the socket is up
 * (never blocking the client), and exactly one `disconnected` per connection whose connect succeeded,
 * always after its `connected`.
 */
export class ConnectionManager implements ConnectionOwner {
  readonly limits: Required<EmulatorLimits>;
  readonly recoveryWindowMs: number;
  readonly #config: EmulatorConfig;
  readonly #registry: Registry;
  readonly #dispatcher: EventDispatcher;
  readonly #connectedSent = new WeakMap<ClientConnection, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  #shuttingDown = false;

  constructor(config: EmulatorConfig, registry: Registry, dispatcher: EventDispatcher) {
    this.#config = config;
    this.limits = config.limits;
    this.recoveryWindowMs = config.reliableRecoveryWindowMs;
    this.#registry = registry;
    this.#dispatcher = dispatcher;
  }

  register(connection: ClientConnection): void {
    this.#registry.hub(connection.hub).add(connection);
  }

  notifyConnected(connection: ClientConnection): void {
    const sent = this.#notify({
      type: 'connected',
      eventName: 'connected',
      id: connection.takeEventId(),
      context: connection,
      contentType: JSON_TYPE,
      body: Buffer.from('{}'),
    });
    this.#connectedSent.set(connection, sent);
  }

  /** ConnectionOwner: the connection is gone for good. */
  ended(connection: ClientConnection, reason: string): void {
    this.#registry.hub(connection.hub).remove(connection);
    const id = connection.takeEventId();
    const after = this.#connectedSent.get(connection) ?? Promise.resolve();
    void this.#track(after.then(() => this.#disconnected(connection, id, reason)));
  }

  /** A connect that the handler accepted but whose socket never opened (the client left meanwhile). */
  endedBeforeOpen(context: EventContext, id: number, reason: string): void {
    void this.#track(this.#disconnected(context, id, reason));
  }

  /** Closes every connection (each gets its disconnected) and waits a little for those events. */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    for (const connection of [...this.#registry.allConnections()]) {
      connection.close(1001, 'The emulator is shutting down', 'The emulator is shutting down.');
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_ATTEMPT_MS + 500);
    });
    await Promise.race([Promise.allSettled([...this.#inFlight]), deadline]);
    clearTimeout(timer);
  }

  #disconnected(context: EventContext, id: number, reason: string): Promise<void> {
    return this.#notify({
      type: 'disconnected',
      eventName: 'disconnected',
      id,
      context,
      contentType: JSON_TYPE,
      body: Buffer.from(JSON.stringify({ reason })),
    });
  }

  #notify(event: UpstreamEvent): Promise<void> {
    if (this.#dispatcher.handlerFor(event.context.hub, event.type, event.eventName) === undefined) {
      return Promise.resolve();
    }
    if (this.#shuttingDown) event.lastChance = { timeoutMs: SHUTDOWN_ATTEMPT_MS };
    // Notifications are not blocking: a failure is logged, the connection carries on.
    const sent = this.#dispatcher.dispatch(event).then((outcome) => {
      if (outcome.kind === 'failed') {
        this.#config.log(`upstream: ${event.type} of ${event.context.connectionId}: ${outcome.reason}`);
      } else if (
        outcome.kind === 'answered' &&
        (outcome.response.status < 200 || outcome.response.status > 299)
      ) {
        this.#config.log(
          `upstream: ${event.type} of ${event.context.connectionId} answered ${outcome.response.status}`,
        );
      }
    });
    return this.#track(sent);
  }

  #track(promise: Promise<void>): Promise<void> {
    const tracked = promise.catch((error: unknown) => {
      this.#config.log(
        `upstream: notification failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
    return tracked;
  }
}
