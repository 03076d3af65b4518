import fc from 'fast-check';
import { signatureAuthenticator } from '../../src/events/authentication';
import type { WebhookHooks } from '../../src/events/hooks';
import { createWebhook } from '../../src/events/webhook';
import { createOriginPolicy } from '../../src/protocol/origins';
import {
  ACCESS_KEY,
  CONNECTION_ID,
  ORIGIN,
  PRIMARY,
  captureLog,
  connectBody,
  coreRequest,
  eventHeaders,
  header,
  type EventKind,
} from '../support/cloud-events';
import { fuzzParameters, fuzzTimeout, headerName, headerValue } from './fuzz-config';

/**
 * The webhook under arbitrary methods, header maps and bodies, starting from the service's own header set
 * and mutating it (dropping, replacing, adding headers). Whatever arrives: the handler answers (never
 * throws), with 2xx or 4xx only (the hooks here never fail), no hook runs for a refused request, a hook
 * runs only for a request signed with our key for the connection it names, and the body is never read with
 * a larger limit than configured.
 */
const MAX_BODY = 2048;
const MAX_STATE = 512;

const READ_HEADERS = [
  'webhook-request-origin',
  'ce-specversion',
  'ce-awpsversion',
  'ce-type',
  'ce-source',
  'ce-id',
  'ce-time',
  'ce-hub',
  'ce-connectionid',
  'ce-userid',
  'ce-eventname',
  'ce-subprotocol',
  'ce-connectionstate',
  'ce-signature',
  'ce-physicalconnectionid',
  'ce-sessionid',
  'content-type',
  'content-length',
  'authorization',
];

const KINDS: EventKind[] = ['connect', 'connected', 'disconnected', 'user.message', 'user.a.b'];

const kind = fc.constantFrom(...KINDS);
const method = fc.oneof(
  fc.constantFrom('POST', 'OPTIONS', 'GET', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'post', 'options'),
  fc.stringMatching(/^[A-Z]{1,10}$/),
);
const mutations = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('delete' as const), name: headerName(READ_HEADERS) }),
    fc.record({ op: fc.constant('set' as const), name: headerName(READ_HEADERS), value: headerValue() }),
  ),
  { maxLength: 6 },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(JSON.stringify(connectBody())),
  fc.constantFrom('{}', '{"reason":"Normal"}', 'null', '[]', '{"claims":1}', '"x"'),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
  fc.integer({ min: MAX_BODY + 1, max: MAX_BODY * 4 }).map((size) => 'x'.repeat(size)),
);

function spies(): Record<'connect' | 'userEvent' | 'connected' | 'disconnected', jest.Mock> {
  return { connect: jest.fn(), userEvent: jest.fn(), connected: jest.fn(), disconnected: jest.fn() };
}

function build(hooks: WebhookHooks) {
  return createWebhook({
    hubs: ['chat'],
    origins: createOriginPolicy([ORIGIN]),
    authenticators: [signatureAuthenticator([ACCESS_KEY])],
    hooks,
    maxBodyBytes: MAX_BODY,
    maxStateBytes: MAX_STATE,
  });
}

function applyMutations(
  base: Record<string, string>,
  changes: readonly ({ op: 'delete'; name: string } | { op: 'set'; name: string; value: string })[],
): Record<string, string> {
  const headers = new Map(Object.entries(base).map(([name, value]) => [name.toLowerCase(), value]));
  for (const change of changes) {
    if (change.op === 'delete') headers.delete(change.name.toLowerCase());
    else headers.set(change.name.toLowerCase(), change.value);
  }
  return Object.fromEntries(headers);
}

test(
  'arbitrary requests: answered with 2xx/4xx, hooks only for signed requests, body read within the limit',
  async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(kind, method, mutations, body, async (eventKind, verb, changes, payload) => {
        const hooks = spies();
        const log = captureLog();
        const headers = applyMutations(eventHeaders(eventKind), changes);
        const request = coreRequest({ method: verb, headers, body: payload });
        const limits: number[] = [];
        const readBody = request.readBody.bind(request);
        request.readBody = (maxBytes) => {
          limits.push(maxBytes);
          return readBody(maxBytes);
        };

        const response = await build(hooks as WebhookHooks)(request, log);

        expect(
          response.status === 200 ||
            response.status === 204 ||
            (response.status >= 400 && response.status < 500),
        ).toBe(true);
        const called = Object.values(hooks).filter((hook) => hook.mock.calls.length > 0);
        if (response.status >= 400) {
          expect(called).toHaveLength(0);
          expect(header(response, 'content-type')).toBe('application/problem+json');
        }
        if (called.length > 0) {
          accepted += 1;
          expect(verb).toBe('POST');
          expect(new Headers(headers).get('ce-connectionid')).toBe(CONNECTION_ID);
          expect(new Headers(headers).get('ce-signature')).toContain(PRIMARY.hex);
        }
        for (const limit of limits) expect(limit).toBeLessThanOrEqual(MAX_BODY);
        expect(log.lines.filter((line) => line.level === 'error')).toEqual([]);
      }),
      fuzzParameters(1000),
    );
    // The generator must reach the hooks, or the "only signed requests" half proves nothing.
    expect(accepted).toBeGreaterThan(0);
  },
  fuzzTimeout(20000),
);

test(
  'hooks that throw or reject: 500 hook-failed for blocking events, 204 for notifications, never a throw',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        kind,
        fc.constantFrom('throw', 'reject', 'reject-non-error'),
        async (eventKind, failure) => {
          const hook = jest.fn(() => {
            if (failure === 'throw') throw new Error('boom');
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
            return failure === 'reject' ? Promise.reject(new Error('boom')) : Promise.reject('boom');
          });
          const hooks = { connect: hook, userEvent: hook, connected: hook, disconnected: hook };
          const bodyOf: Record<string, string> = {
            connect: JSON.stringify(connectBody()),
            connected: '{}',
            disconnected: '{"reason":"Normal"}',
          };
          const request = coreRequest({
            headers: eventHeaders(eventKind),
            body: bodyOf[eventKind] ?? 'hello',
          });
          const response = await build(hooks)(request, captureLog());
          expect(hook).toHaveBeenCalledTimes(1);
          const notification = eventKind === 'connected' || eventKind === 'disconnected';
          expect(response.status).toBe(notification ? 204 : 500);
        },
      ),
      fuzzParameters(40),
    );
  },
  fuzzTimeout(10000),
);
