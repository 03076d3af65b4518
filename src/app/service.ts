import type { ServiceClients } from '../service/clients';
import { serviceDeadline } from '../service/resilience';
import type { RoomMessage } from './messages';

/**
 * The few service operations the chat needs, each bounded by one deadline (the SDK clients must be built
 * with `serviceClientOptions` of the same budget, so retries and Retry-After waits fit inside it). A
 * failure rejects; the hooks turn it into `{ ok: false, error: "unavailable" }` for the sender.
 */
export interface ChatService {
  join(hub: string, room: string, connectionId: string): Promise<void>;
  leave(hub: string, room: string, connectionId: string): Promise<void>;
  /** The user ids of the room's connections, deduplicated and sorted (at most MAX_LISTED_CONNECTIONS read). */
  members(hub: string, room: string): Promise<string[]>;
  send(hub: string, room: string, message: RoomMessage, excludedConnectionId?: string): Promise<void>;
}

/** A room bigger than this is listed in part: the reply must stay small and the call short. */
export const MAX_LISTED_CONNECTIONS = 1000;

export function createChatService(clients: Pick<ServiceClients, 'forHub'>, timeoutMs: number): ChatService {
  async function bounded<T>(run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = serviceDeadline(timeoutMs);
    try {
      return await run(deadline.signal);
    } finally {
      deadline.dispose();
    }
  }

  return {
    join: (hub, room, connectionId) =>
      bounded(async (abortSignal) => {
        await (await clients.forHub(hub)).group(room).addConnection(connectionId, { abortSignal });
      }),
    leave: (hub, room, connectionId) =>
      bounded(async (abortSignal) => {
        await (await clients.forHub(hub)).group(room).removeConnection(connectionId, { abortSignal });
      }),
    members: (hub, room) =>
      bounded(async (abortSignal) => {
        const pages = await (await clients.forHub(hub)).group(room).listConnections({ abortSignal });
        const users = new Set<string>();
        let read = 0;
        for await (const member of pages) {
          if (member.userId !== undefined && member.userId !== '') users.add(member.userId);
          if (++read >= MAX_LISTED_CONNECTIONS) break;
        }
        return [...users].sort();
      }),
    send: (hub, room, message, excludedConnectionId) =>
      bounded(async (abortSignal) => {
        await (await clients.forHub(hub)).group(room).sendToAll(message, {
          abortSignal,
          ...(excludedConnectionId === undefined ? {} : { excludedConnections: [excludedConnectionId] }),
        });
      }),
  };
}
