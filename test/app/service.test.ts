import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { createChatService, MAX_LISTED_CONNECTIONS } from '../../src/app/service';

/**
 * The chat's service calls over a stand-in for the @azure/web-pubsub client: every call carries an abort
 * signal that fires after the budget, and the member list is deduplicated, sorted and bounded.
 */
interface Recorded {
  method: string;
  group: string;
  args: unknown[];
}

function fakeClients(behaviour: {
  sendToAll?: (signal: AbortSignal) => Promise<void>;
  members?: { connectionId: string; userId?: string }[];
}) {
  const recorded: Recorded[] = [];
  let listed = 0;
  const client = {
    group(group: string) {
      return {
        async addConnection(...args: unknown[]) {
          recorded.push({ method: 'addConnection', group, args });
        },
        async removeConnection(...args: unknown[]) {
          recorded.push({ method: 'removeConnection', group, args });
        },
        async sendToAll(message: unknown, options: { abortSignal: AbortSignal }) {
          recorded.push({ method: 'sendToAll', group, args: [message, options] });
          await behaviour.sendToAll?.(options.abortSignal);
        },
        async listConnections(options: unknown) {
          recorded.push({ method: 'listConnections', group, args: [options] });
          const members = behaviour.members ?? [];
          return (async function* () {
            for (const member of members) {
              listed++;
              yield member;
            }
          })();
        },
      };
    },
  } as unknown as WebPubSubServiceClient;
  return { clients: { forHub: async () => client }, recorded, listed: () => listed };
}

describe('the chat service', () => {
  it('fails a call that outlives its budget, through the abort signal', async () => {
    const { clients } = fakeClients({
      sendToAll: (signal) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason as Error)),
        ),
    });
    const service = createChatService(clients, 50);
    const started = performance.now();
    await expect(
      service.send('chat', 'lobby', { type: 'typing', room: 'lobby', userId: 'a' }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('sends to the group, excluding one connection when asked', async () => {
    const { clients, recorded } = fakeClients({});
    const service = createChatService(clients, 1000);
    const message = { type: 'typing', room: 'lobby', userId: 'a' } as const;
    await service.send('chat', 'lobby', message, 'conn-1');
    expect(recorded[0]).toMatchObject({
      method: 'sendToAll',
      group: 'lobby',
      args: [message, { excludedConnections: ['conn-1'] }],
    });
    expect((recorded[0]!.args[1] as { abortSignal: AbortSignal }).abortSignal).toBeInstanceOf(AbortSignal);
  });

  it('lists members as sorted, distinct user ids, reading at most MAX_LISTED_CONNECTIONS connections', async () => {
    const members = [
      { connectionId: 'c1', userId: 'zed' },
      { connectionId: 'c2', userId: 'amy' },
      { connectionId: 'c3', userId: 'zed' },
      { connectionId: 'c4' },
    ];
    expect(await createChatService(fakeClients({ members }).clients, 1000).members('chat', 'lobby')).toEqual([
      'amy',
      'zed',
    ]);
    const many = Array.from({ length: MAX_LISTED_CONNECTIONS + 50 }, (_, i) => ({
      connectionId: `c${i}`,
      userId: `u${i}`,
    }));
    const fake = fakeClients({ members: many });
    expect(await createChatService(fake.clients, 1000).members('chat', 'big')).toHaveLength(
      MAX_LISTED_CONNECTIONS,
    );
    expect(fake.listed()).toBe(MAX_LISTED_CONNECTIONS);
  });
});
