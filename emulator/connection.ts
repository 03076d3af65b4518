import type { WebSocket } from 'ws';
import { batchWritesThisTurn } from './client/write-batching';
import type { EmulatorLimits } from './config';
import { ackMessage, connectedMessage, disconnectedMessage, type Delivery } from './messages';
import type { RoleSet } from './permissions';
import type { CookieJar } from './upstream/cookies';
import { RecentMemory } from '../src/protocol/recent-memory';

export type ClientProtocol = 'raw' | 'json' | 'reliable';

export const JSON_SUBPROTOCOL = 'json.webpubsub.azure.v1';
export const RELIABLE_JSON_SUBPROTOCOL = 'json.reliable.webpubsub.azure.v1';

/** What the owner of the connections does when one is gone for good (deregister, notify upstream). */
export interface ConnectionOwner {
  readonly limits: Required<EmulatorLimits>;
  readonly recoveryWindowMs: number;
  ended(connection: ClientConnection, reason: string): void;
}

export interface ConnectionInit {
  connectionId: string;
  /** Canonical (lower-case) hub name. */
  hub: string;
  userId: string | undefined;
  roles: RoleSet;
  protocol: ClientProtocol;
  /** The subprotocol agreed in the handshake, as `ce-subprotocol` reports it. */
  subprotocol: string | undefined;
  state: string | undefined;
  cookies: CookieJar;
  /** Simple clients in `webpubsub_mode=sendToGroup` publish every frame to this group. */
  rawSendToGroup: { group: string; noEcho: boolean } | undefined;
  reconnectionToken: string | undefined;
  /** ce-id of the next event (connect used 0). */
  nextEventId: number;
}

/**
 * Close codes after which a reliable connection is gone for good: the client said goodbye (normal, going
 * away, or a close frame without a code, which is what the JS client's stop() sends). Any other end of
 * the socket (a drop, 1006) leaves the session open for recovery.
 */
const FINAL_CLIENT_CLOSE_CODES = new Set([1000, 1001, 1005]);

const TEXT = { binary: false };
const BINARY = { binary: true };

/**
 * A message kept for replay: the shared delivery and the sequence id, not the connection's own frame, so
 * a thousand connections holding the same broadcast hold it once (the frame is rebuilt on replay).
 */
interface Unacked {
  sequenceId: number;
  delivery: Delivery;
  bytes: number;
}

/**
 * One logical client connection. For the reliable protocol it outlives its WebSocket: a dropped socket
 * detaches it, messages keep their sequence ids in the replay buffer, and a recovery attaches a new socket.
 * Satisfies the OData filter's FilterTarget (connectionId, userId, groups).
 */
export class ClientConnection {
  readonly connectionId: string;
  readonly hub: string;
  readonly userId: string | undefined;
  readonly groups = new Set<string>();
  readonly roles: RoleSet;
  readonly protocol: ClientProtocol;
  readonly subprotocol: string | undefined;
  readonly cookies: CookieJar;
  readonly rawSendToGroup: { group: string; noEcho: boolean } | undefined;
  readonly reconnectionToken: string | undefined;
  state: string | undefined;
  status: 'open' | 'detached' | 'closed' = 'open';
  socket: WebSocket | undefined;
  /** User events of one connection reach the handler in the order the client sent them. */
  inbound: Promise<void> = Promise.resolve();
  /** Aborted when the connection ends: pending handler calls made for it are cancelled. */
  readonly #ended = new AbortController();
  readonly #owner: ConnectionOwner;
  #nextEventId: number;
  #pendingWrites = 0;
  readonly #written = (): void => {
    this.#pendingWrites--;
  };
  #sequenceId = 0;
  #unacked: Unacked[] = [];
  #unackedHead = 0;
  #unackedBytes = 0;
  #detachTimer: NodeJS.Timeout | undefined;
  readonly #processedAcks: RecentMemory<number, true>;

  constructor(init: ConnectionInit, owner: ConnectionOwner) {
    this.connectionId = init.connectionId;
    this.hub = init.hub;
    this.userId = init.userId;
    this.roles = init.roles;
    this.protocol = init.protocol;
    this.subprotocol = init.subprotocol;
    this.state = init.state;
    this.cookies = init.cookies;
    this.rawSendToGroup = init.rawSendToGroup;
    this.reconnectionToken = init.reconnectionToken;
    this.#nextEventId = init.nextEventId;
    this.#owner = owner;
    // Twice the limit, because a RecentMemory guarantees only the most recent half of its capacity.
    this.#processedAcks = new RecentMemory(2 * Math.max(owner.limits.ackCacheSize, 1));
  }

  get signal(): AbortSignal {
    return this.#ended.signal;
  }

  get isJson(): boolean {
    return this.protocol !== 'raw';
  }

  takeEventId(): number {
    return this.#nextEventId++;
  }

  /** The first socket, or a recovering one: replaces any socket still attached (a half-open drop). */
  attach(ws: WebSocket): void {
    const previous = this.socket;
    this.socket = ws;
    this.status = 'open';
    if (this.#detachTimer !== undefined) clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    if (previous !== undefined && previous !== ws) previous.terminate();
  }

  /** The `connected` system message, then (on recovery) every message not acknowledged yet, in order. */
  greet(): void {
    if (!this.isJson) return;
    this.sendControl(connectedMessage(this.connectionId, this.userId, this.reconnectionToken));
    for (let i = this.#unackedHead; i < this.#unacked.length; i++) {
      const { delivery, sequenceId } = this.#unacked[i] as Unacked;
      this.#write(delivery.reliable(sequenceId), false);
    }
  }

  deliver(delivery: Delivery): void {
    if (this.status === 'closed') return;
    if (this.protocol === 'json') {
      this.#write(delivery.json(), false);
    } else if (this.protocol === 'raw') {
      const frame = delivery.raw();
      this.#write(frame.data, frame.binary);
    } else {
      const sequenceId = ++this.#sequenceId;
      const frame = delivery.reliable(sequenceId);
      this.#unacked.push({ sequenceId, delivery, bytes: frame.length });
      this.#unackedBytes += frame.length;
      const { maxReliableMessages, maxReliableBytes } = this.#owner.limits;
      if (
        this.#unacked.length - this.#unackedHead > maxReliableMessages ||
        this.#unackedBytes > maxReliableBytes
      ) {
        const reason = 'The reliable message buffer is full.';
        this.close(1008, 'reliable message buffer is full', reason, reason);
        return;
      }
      this.#write(frame, false);
    }
  }

  /** Acks, system messages and pongs: never sequenced, never replayed. */
  sendControl(text: string): void {
    this.#write(Buffer.from(text, 'utf8'), false);
  }

  /** A `sequenceAck`: everything up to `sequenceId` arrived and leaves the replay buffer. */
  acknowledgeSequence(sequenceId: number): void {
    const queue = this.#unacked;
    let head = this.#unackedHead;
    while (head < queue.length && (queue[head] as Unacked).sequenceId <= sequenceId) {
      this.#unackedBytes -= (queue[head] as Unacked).bytes;
      head++;
    }
    if (head === queue.length) {
      this.#unacked = [];
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      this.#unacked = queue.slice(head);
      head = 0;
    }
    this.#unackedHead = head;
  }

  get unacknowledgedCount(): number {
    return this.#unacked.length - this.#unackedHead;
  }

  isDuplicateAck(ackId: number): boolean {
    return this.#processedAcks.get(ackId) !== undefined;
  }

  /** Remembers a successfully processed ackId (the most recent ones only). */
  rememberAck(ackId: number): void {
    this.#processedAcks.set(ackId, true);
  }

  ack(ackId: number | undefined, error?: { name: string; message: string }): void {
    if (ackId === undefined) return;
    this.sendControl(ackMessage(ackId, error));
  }

  /**
   * A close the server decides (REST, protocol error, limits): JSON clients first get a `disconnected`
   * system message when `message` is given; the connection cannot be recovered afterwards.
   */
  close(code: number, description: string, reason: string, message?: string): void {
    if (this.status === 'closed') return;
    const ws = this.socket;
    if (ws !== undefined && ws.readyState === ws.OPEN) {
      if (message !== undefined && this.isJson) this.sendControl(disconnectedMessage(message));
      ws.close(code, description);
    }
    this.end(reason);
  }

  /** Drops the socket without a close handshake (a client that stopped reading cannot receive one). */
  abort(reason: string): void {
    if (this.status === 'closed') return;
    this.socket?.terminate();
    this.end(reason);
  }

  /** The socket `ws` closed: a reliable connection waits for recovery unless the client said goodbye. */
  socketClosed(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.socket || this.status !== 'open') return;
    if (this.protocol === 'reliable' && !FINAL_CLIENT_CLOSE_CODES.has(code)) {
      this.socket = undefined;
      this.status = 'detached';
      this.#detachTimer = setTimeout(() => {
        this.end('The connection recovery timeout expired.');
      }, this.#owner.recoveryWindowMs);
      this.#detachTimer.unref();
      return;
    }
    this.end(reason);
  }

  /** Gone for good: exactly once, whatever the path. */
  end(reason: string): void {
    if (this.status === 'closed') return;
    this.status = 'closed';
    if (this.#detachTimer !== undefined) clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    this.#unacked = [];
    this.#unackedHead = 0;
    this.#ended.abort();
    this.#owner.ended(this, reason);
  }

  #write(data: Buffer, binary: boolean): void {
    const ws = this.socket;
    if (ws === undefined || this.status !== 'open' || ws.readyState !== ws.OPEN) return;
    const { maxOutboundMessages, maxOutboundBytes } = this.#owner.limits;
    if (this.#pendingWrites >= maxOutboundMessages || ws.bufferedAmount + data.length > maxOutboundBytes) {
      // A client that stops reading must not hold the emulator's memory: drop it, as the service does.
      this.abort('The connection was closed because the client did not read its messages (SlowClient).');
      return;
    }
    this.#pendingWrites++;
    batchWritesThisTurn(ws);
    ws.send(data, binary ? BINARY : TEXT, this.#written);
  }
}
