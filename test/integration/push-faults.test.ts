import { startPushHost, type PushHost } from '../support/push-host';
import {
  startServiceStandIn,
  type RecordedRequest,
  type Reply,
  type ServiceStandIn,
} from '../support/push-service-stand-in';

/**
 * The service failing in every way it can, through the local host with the default time budget (3000 ms per
 * call, one retry at most). Each fault ends with its documented status within the bound, and a success is
 * reported only when the service's last answer was one. Function-key mode (no bearer token configured).
 */
const BUDGET_MS = 3000;
/** Scheduling slack on a shared 2-core machine; the bound itself is BUDGET_MS. */
const SLACK_MS = 1500;

let service: ServiceStandIn;
let app: PushHost;

beforeAll(async () => {
  service = await startServiceStandIn();
  app = await startPushHost({
    WebPubSubConnectionString: `Endpoint=${service.endpoint};AccessKey=${service.accessKey};Version=1.0;`,
    WebPubSubHub: 'chat',
  });
});

afterAll(async () => {
  await app.close();
  await service.close();
});

beforeEach(() => service.reset());

interface Outcome {
  response: Response;
  elapsedMs: number;
  problem: { type: string; detail: string } | undefined;
}

async function timed(method: string, path: string, body?: string): Promise<Outcome> {
  const started = performance.now();
  const response = await fetch(app.url(path), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  const elapsedMs = performance.now() - started;
  const problem =
    response.headers.get('content-type') === 'application/problem+json' && text !== ''
      ? (JSON.parse(text) as { type: string; detail: string })
      : undefined;
  return { response, elapsedMs, problem };
}

const sendToGroup = (): Promise<Outcome> => timed('POST', '/hubs/chat/groups/g1/messages', '{"order":42}');

/** A success is reported exactly when the service's last answer was a success. */
function expectHonest(outcome: Outcome): void {
  const last = service.requests[service.requests.length - 1] as RecordedRequest;
  const serviceSucceeded = last.answered !== undefined && last.answered >= 200 && last.answered < 300;
  expect(outcome.response.ok).toBe(serviceSucceeded);
  expect(outcome.response.headers.get('x-ms-client-request-id')).toBe(last.headers['x-ms-client-request-id']);
  for (const request of service.requests) expect(request.authorized).toBe(true);
}

const sequence =
  (...replies: Reply[]) =>
  (_request: RecordedRequest, attempt: number): Reply =>
    replies[Math.min(attempt, replies.length) - 1] as Reply;

describe('faults of the service', () => {
  it('500, twice: one retry, then 503 with the default Retry-After', async () => {
    service.respond(() => ({ status: 500, body: 'boom' }));
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(503);
    expect(outcome.response.headers.get('retry-after')).toBe('2');
    expect(outcome.problem?.type).toMatch(/service-unavailable$/);
    expect(service.requests).toHaveLength(2);
    expect(outcome.elapsedMs).toBeLessThan(BUDGET_MS);
    expectHonest(outcome);
  });

  it('500 then 202: the retry is delivered once and reported as accepted', async () => {
    service.respond(sequence({ status: 500 }, { status: 202 }));
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(202);
    expect(service.requests).toHaveLength(2);
    expectHonest(outcome);
  });

  it('503 with Retry-After: 1, twice: waits the second, retries once, then 503 Retry-After 1', async () => {
    service.respond(() => ({ status: 503, headers: { 'retry-after': '1' } }));
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(503);
    expect(outcome.response.headers.get('retry-after')).toBe('1');
    expect(service.requests).toHaveLength(2);
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(outcome.elapsedMs).toBeLessThan(BUDGET_MS + SLACK_MS);
    expectHonest(outcome);
  });

  it('503 with Retry-After: 1, then 202: accepted after the wait', async () => {
    service.respond(sequence({ status: 503, headers: { 'retry-after': '1' } }, { status: 202 }));
    const outcome = await timed('POST', '/hubs/chat/messages', '[1]');
    expect(outcome.response.status).toBe(202);
    expect(service.requests).toHaveLength(2);
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(900);
    expectHonest(outcome);
  });

  it('503 with a Retry-After beyond the budget: no wait, no retry, the hint passed on', async () => {
    service.respond(() => ({ status: 503, headers: { 'retry-after': '120' } }));
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(503);
    expect(outcome.response.headers.get('retry-after')).toBe('120');
    expect(service.requests).toHaveLength(1);
    expect(outcome.elapsedMs).toBeLessThan(1000);
    expectHonest(outcome);
  });

  it('429 without Retry-After: not retried (as the SDK does), 503 with the default Retry-After', async () => {
    service.respond(() => ({ status: 429 }));
    const outcome = await timed('PUT', '/hubs/chat/groups/g1/users/u1');
    expect(outcome.response.status).toBe(503);
    expect(outcome.response.headers.get('retry-after')).toBe('2');
    expect(service.requests).toHaveLength(1);
    expectHonest(outcome);
  });

  it('429 with Retry-After: 10: answered at once with Retry-After 10', async () => {
    service.respond(() => ({ status: 429, headers: { 'retry-after': '10' } }));
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(503);
    expect(outcome.response.headers.get('retry-after')).toBe('10');
    expect(service.requests).toHaveLength(1);
    expect(outcome.elapsedMs).toBeLessThan(1000);
    expectHonest(outcome);
  });

  it('429 with retry-after-ms: 100, then 202: waits 100 ms and succeeds', async () => {
    service.respond(sequence({ status: 429, headers: { 'retry-after-ms': '100' } }, { status: 202 }));
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(202);
    expect(service.requests).toHaveLength(2);
    expectHonest(outcome);
  });

  it('a 502 with an HTML page: 503, and the page is not echoed', async () => {
    service.respond(() => ({
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: '<html><body>Bad Gateway from some proxy</body></html>',
    }));
    const outcome = await timed('DELETE', '/hubs/chat/connections/c1');
    expect(outcome.response.status).toBe(503);
    expect(outcome.problem?.detail).not.toContain('<html>');
    expectHonest(outcome);
  });

  it('500 on an exists check: 503 without a body (HEAD)', async () => {
    service.respond(() => ({ status: 500 }));
    const outcome = await timed('HEAD', '/hubs/chat/connections/c1');
    expect(outcome.response.status).toBe(503);
    expect(outcome.response.headers.get('retry-after')).toBe('2');
    expect(outcome.problem).toBeUndefined();
    expectHonest(outcome);
  });

  it('the connection dropped without an answer, twice: 503 service-unreachable', async () => {
    service.respond(() => 'destroy');
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(503);
    expect(outcome.problem?.type).toMatch(/service-unreachable$/);
    expect(service.requests).toHaveLength(2);
    expectHonest(outcome);
  });

  it('a hanging service: 504 at the budget, one attempt, and the request abandoned', async () => {
    service.respond(() => 'hang');
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(504);
    expect(outcome.problem?.type).toMatch(/service-timeout$/);
    expect(outcome.problem?.detail).toContain('may or may not have taken effect');
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(BUDGET_MS - 100);
    expect(outcome.elapsedMs).toBeLessThan(BUDGET_MS + SLACK_MS);
    expect(service.requests).toHaveLength(1);
    // The call was cancelled, not left running behind our answer.
    await service.requests[0]?.abandoned;
    expectHonest(outcome);
  });

  it('a hanging service on a group listing: 504 at the budget too', async () => {
    service.respond(() => 'hang');
    const outcome = await timed('GET', '/hubs/chat/groups/g1/connections');
    expect(outcome.response.status).toBe(504);
    expect(outcome.elapsedMs).toBeLessThan(BUDGET_MS + SLACK_MS);
    expectHonest(outcome);
  });

  it('logs each failure with the request id, never the access key', () => {
    const log = app.logLines.join('\n');
    expect(log).toMatch(/service call failed.*"clientRequestId":"[0-9a-f-]{36}"/);
    expect(log).not.toContain(service.accessKey);
  });

  // Last: the stand-in stops listening for good.
  it('a service refusing connections: 503 service-unreachable, quickly', async () => {
    await service.refuse();
    const outcome = await sendToGroup();
    expect(outcome.response.status).toBe(503);
    expect(outcome.problem?.type).toMatch(/service-unreachable$/);
    expect(outcome.response.headers.get('retry-after')).toBe('2');
    expect(outcome.elapsedMs).toBeLessThan(BUDGET_MS);
    expect(service.requests).toHaveLength(0);
  });
});
