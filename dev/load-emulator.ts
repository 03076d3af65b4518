import { createEmulator } from '../emulator';
import { SYSTEM_EVENTS } from '../emulator/config';

/**
 * The emulator of `npm run load`, in a process of its own (forked by dev/load.ts), as the real service is
 * apart from the Functions host: the fan-out of 100,000 frames a second then no longer queues the push
 * API's requests behind it on one event loop, and the stack can use both cores.
 */
export interface EmulatorRequest {
  hubs: string[];
  /** The host's webhook, with its function key. */
  eventHandlerUrl: string;
}

export interface EmulatorAnswer {
  connectionString: string;
}

process.once('message', (request: EmulatorRequest) => {
  createEmulator({
    port: 0,
    host: '127.0.0.1',
    hubs: Object.fromEntries(
      request.hubs.map((hub) => [
        hub,
        {
          eventHandlers: [
            { urlTemplate: request.eventHandlerUrl, systemEvents: [...SYSTEM_EVENTS], userEventPattern: '*' },
          ],
        },
      ]),
    ),
    log: () => {},
  }).then(
    (emulator) => {
      process.send?.({ connectionString: emulator.connectionString } satisfies EmulatorAnswer);
      // The parent gone (finished, killed or crashed) ends the run.
      process.once('disconnect', () => {
        void emulator.close().finally(() => process.exit(0));
      });
    },
    (error: unknown) => {
      console.error('load emulator:', error);
      process.exit(1);
    },
  );
});
