import { createHmac } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { signatureAuthenticator } from '../../src/events/authentication';
import { createWebhook } from '../../src/events/webhook';
import { createOriginPolicy } from '../../src/protocol/origins';
import {
  ACCESS_KEY,
  HUB,
  ORIGIN,
  captureLog,
  connectBody,
  coreRequest,
  eventHeaders,
  type EventKind,
} from '../support/cloud-events';
import { FUZZ_SEED, fuzzTimeout } from './fuzz-config';

/**
 * Memory stays bounded however many connections come and go: what the webhook remembers per connection
 * (verified signatures) is capped, so a flood of events for ever-new connections, as the service sends
 * when clients churn or as anyone replaying signed events would, cannot grow the process.
 *
 * The measure is the heap after full collections, before and after the flood. Measured on Node 20 with
 * 60,000 connections: 4.2 MB retained with the cap (10,000 connections), 25.9 MB without it; the flood
 * here (40,000) would retain about 17 MB uncapped, twice the allowance.
 */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function retainedHeapBytes(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

const MB = 1024 * 1024;
const CONNECTIONS = Number(process.env.FUZZ_RUNS ?? '') > 0 ? 200_000 : 40_000;
const ALLOWANCE_BYTES = 8 * MB;

const KINDS: EventKind[] = ['connect', 'connected', 'user.message', 'disconnected'];
const event = fc.record({
  kind: fc.constantFrom(...KINDS),
  text: fc.string({ maxLength: 300 }),
  room: fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/),
});

test(
  'a flood of signed events for ever-new connections leaves the retained heap within a fixed allowance',
  async () => {
    const webhook = createWebhook({
      hubs: [HUB],
      origins: createOriginPolicy([ORIGIN]),
      authenticators: [signatureAuthenticator([ACCESS_KEY])],
      hooks: {
        connect: (request) => ({ userId: request.context.userId ?? 'anonymous', groups: request.query.room }),
        userEvent: (request) => ({ dataType: 'text', data: String(request.data) }),
      },
      maxBodyBytes: 4096,
      maxStateBytes: 1024,
    });
    const events = fc.sample(event, { numRuns: CONNECTIONS, seed: FUZZ_SEED });
    const log = captureLog();

    async function flood(from: number, to: number): Promise<void> {
      for (let index = from; index < to; index++) {
        const { kind, text, room } = events[index] as (typeof events)[number];
        const connectionId = `conn${index.toString(16).padStart(28, '0')}`;
        // The service's signature, computed with node:crypto as the service does, not with our code.
        const signature = `sha256=${createHmac('sha256', ACCESS_KEY).update(connectionId).digest('hex')}`;
        const response = await webhook(
          coreRequest({
            headers: eventHeaders(kind, {
              'ce-connectionid': connectionId,
              'ce-source': `/hubs/${HUB}/client/${connectionId}`,
              'ce-signature': signature,
            }),
            body:
              kind === 'connect'
                ? JSON.stringify(connectBody({ query: { room: [room] } }))
                : kind === 'disconnected'
                  ? '{"reason":""}'
                  : kind === 'connected'
                    ? '{}'
                    : text,
          }),
          log,
        );
        if (response.status >= 300) throw new Error(`event ${index} (${kind}) answered ${response.status}`);
      }
    }

    // The first thousand load whatever is loaded once (code, caches of the engine itself).
    await flood(0, 1_000);
    const before = retainedHeapBytes();
    await flood(1_000, CONNECTIONS);
    const growth = retainedHeapBytes() - before;
    expect(log.lines.filter((line) => line.level === 'error')).toEqual([]);
    expect(growth).toBeLessThan(ALLOWANCE_BYTES);
  },
  fuzzTimeout(60_000),
);
