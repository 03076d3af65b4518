import fc from 'fast-check';
import { createPushApi, PUSH_OPERATIONS } from '../../src/push/api';
import { functionKeyAuthorizer } from '../../src/push/authorization';
import { ProblemError } from '../../src/protocol/errors';
import { bodyText, captureLog, header } from '../support/cloud-events';
import { fuzzParameters, fuzzTimeout } from './fuzz-config';

/**
 * The push API's request parsing under arbitrary route values, query strings, content types and bodies.
 * The service stand-in answers every call with a marker 503, so each response says whether the service
 * was reached: a request is either refused with a 4xx application/problem+json and no service call, or it
 * reached the service once. Nothing throws and no response is another 5xx.
 */
const REACHED = 'stub-service-reached';

const routeValue = fc.oneof(
  fc.constantFrom('chat', 'Chat', 'g1', 'user1', 'conn1', 'sendToGroup', 'joinLeaveGroup', '', ' ', 'a/b'),
  fc.string({ maxLength: 20 }),
  fc.string({ minLength: 1020, maxLength: 1030 }),
);
const queryName = fc.oneof(
  fc.constantFrom(
    'filter',
    'excluded',
    'ttl',
    'reason',
    'targetName',
    'maxPageSize',
    'continuationToken',
    'code',
  ),
  fc.string({ maxLength: 8 }),
);
const queryValue = fc.oneof(
  fc.constantFrom('', '0', '1', '200', '201', '-1', '1e2', ' 5', "userId eq 'a'", "'", 'g1', '9999999'),
  fc.string({ maxLength: 30 }),
);
const contentType = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    'application/json',
    'text/plain',
    'application/octet-stream',
    'text/plain; charset=utf-8',
    'text/plain; charset=latin1',
    'application/json;charset="UTF-8"',
    'APPLICATION/JSON',
    'text/html',
    ';',
    '',
  ),
  fc.string({ maxLength: 30 }).filter((value) => !/[\r\n\0]/.test(value) && /^[\x20-\xff]*$/.test(value)),
);
const body = fc.oneof(
  fc.constantFrom('{"a":1}', 'hello', '', 'nul\u0000l', '{'),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 100 }),
  fc.uint8Array({ maxLength: 100 }),
);

test(
  'arbitrary push requests: a 4xx problem and no service call, or exactly one service call',
  async () => {
    let reached = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PUSH_OPERATIONS),
        fc.record({
          hub: routeValue,
          group: routeValue,
          userId: routeValue,
          connectionId: routeValue,
          permission: routeValue,
        }),
        fc.array(fc.tuple(queryName, queryValue), { maxLength: 4 }),
        contentType,
        body,
        fc.option(fc.string({ maxLength: 140 }), { nil: undefined }),
        async (operation, params, query, type, payload, requestId) => {
          const forHub = jest.fn(() => {
            throw new ProblemError(503, REACHED, 'Reached', 'The stand-in service was called.');
          });
          const api = createPushApi({
            hubs: ['chat'],
            clients: { forHub },
            authorizer: functionKeyAuthorizer,
            roles: { send: 'Messages.Send', manage: 'Groups.Manage' },
            serviceTimeoutMs: 1000,
          });
          const url = new URL('https://app.example/api/push');
          for (const [name, value] of query) url.searchParams.append(name, value);
          const headers = new Headers();
          if (type !== undefined) headers.set('content-type', type);
          if (requestId !== undefined && /^[\x20-\x7e]*$/.test(requestId)) {
            headers.set('x-ms-client-request-id', requestId);
          }
          const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
          const log = captureLog();
          const response = await api[operation](
            {
              method: 'POST',
              url: url.toString(),
              headers,
              params,
              readBody: () => Promise.resolve(bytes),
            },
            log,
          );

          expect(header(response, 'x-ms-client-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
          if (forHub.mock.calls.length > 0) {
            reached += 1;
            expect(forHub).toHaveBeenCalledTimes(1);
            expect(response.status).toBe(503);
            expect(bodyText(response)).toContain(REACHED);
          } else {
            expect(response.status).toBeGreaterThanOrEqual(400);
            expect(response.status).toBeLessThan(500);
            expect(header(response, 'content-type')).toBe('application/problem+json');
            expect(JSON.parse(bodyText(response))).toMatchObject({ status: response.status });
          }
        },
      ),
      fuzzParameters(800),
    );
    expect(reached).toBeGreaterThan(0);
  },
  fuzzTimeout(20000),
);
