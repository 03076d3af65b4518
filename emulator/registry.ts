import { normalizeHubName } from '../src/protocol/names';
import type { ClientConnection } from './connection';

/**
 * One hub's indexes, kept two-way so that every REST operation is a lookup rather than a scan (the idea of
 * socket.io's in-memory adapter): connection id -> connection, group -> members, user -> connections;
 * each connection holds its own group set (connection -> groups). Empty groups and users disappear, so
 * "exists" is a map lookup. Group names and user ids are case-sensitive.
 */
export class HubState {
  readonly name: string;
  readonly connections = new Map<string, ClientConnection>();
  readonly groups = new Map<string, Set<ClientConnection>>();
  readonly users = new Map<string, Set<ClientConnection>>();

  constructor(name: string) {
    this.name = name;
  }

  add(connection: ClientConnection): void {
    this.connections.set(connection.connectionId, connection);
    if (connection.userId !== undefined) addTo(this.users, connection.userId, connection);
    for (const group of connection.groups) addTo(this.groups, group, connection);
  }

  /** Forgets the connection everywhere; true when it was registered. */
  remove(connection: ClientConnection): boolean {
    if (this.connections.get(connection.connectionId) !== connection) return false;
    this.connections.delete(connection.connectionId);
    if (connection.userId !== undefined) removeFrom(this.users, connection.userId, connection);
    for (const group of connection.groups) removeFrom(this.groups, group, connection);
    return true;
  }

  join(connection: ClientConnection, group: string): void {
    if (connection.groups.has(group)) return;
    connection.groups.add(group);
    if (this.connections.get(connection.connectionId) === connection) addTo(this.groups, group, connection);
  }

  leave(connection: ClientConnection, group: string): void {
    if (!connection.groups.delete(group)) return;
    removeFrom(this.groups, group, connection);
  }

  leaveAll(connection: ClientConnection): void {
    for (const group of connection.groups) removeFrom(this.groups, group, connection);
    connection.groups.clear();
  }

  members(group: string): ReadonlySet<ClientConnection> {
    return this.groups.get(group) ?? EMPTY;
  }

  userConnections(userId: string): ReadonlySet<ClientConnection> {
    return this.users.get(userId) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<ClientConnection> = new Set();

function addTo(index: Map<string, Set<ClientConnection>>, key: string, connection: ClientConnection): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(connection);
}

function removeFrom(
  index: Map<string, Set<ClientConnection>>,
  key: string,
  connection: ClientConnection,
): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(connection);
  if (set.size === 0) index.delete(key);
}

/** Every hub, created on first use; hub names are case-insensitive. Lives as long as the process. */
export class Registry {
  readonly #hubs = new Map<string, HubState>();

  hub(name: string): HubState {
    const key = normalizeHubName(name);
    let hub = this.#hubs.get(key);
    if (hub === undefined) {
      hub = new HubState(key);
      this.#hubs.set(key, hub);
    }
    return hub;
  }

  *allConnections(): Iterable<ClientConnection> {
    for (const hub of this.#hubs.values()) yield* hub.connections.values();
  }
}
