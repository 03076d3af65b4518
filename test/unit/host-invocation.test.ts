/**
 * The local host invokes a function as the Functions worker does: through the programming model the app's
 * @azure/functions set, from the host's RPC request shape to its RPC response shape (dev/host/invocation.ts).
 * Here the app is real @azure/functions registrations; under jest, `@azure/functions-core` is our stand-in.
 */
import { app, HttpRequest, type InvocationContext } from '@azure/functions';
import * as coreApi from '../../dev/host/core-api';
import { invokeHttpFunction, type RpcHttpRequest } from '../../dev/host/invocation';
import { cookieAttributes } from '../support/set-cookie';

interface Seen {
  request: unknown;
  context: InvocationContext | undefined;
}
const seen: Seen = { request: undefined, context: undefined };

app.http('echo', {
  route: 'echo/{name}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: async (request, context) => {
    seen.request = request;
    seen.context = context;
    context.log('seen', request.method, request.params.name);
    return {
      status: 201,
      headers: { 'x-echo': request.headers.get('x-in') ?? '' },
      body: `${await request.text()}|${request.query.getAll('tag').join('+')}`,
      cookies: [
        { name: 'session', value: 'abc', httpOnly: true, sameSite: 'Lax', path: '/' },
        { name: 'theme', value: 'dark', expires: new Date(Date.UTC(2030, 0, 1)) },
      ],
    };
  },
});
app.http('nothing', { route: 'nothing', authLevel: 'anonymous', handler: () => undefined as never });
app.http('fails', {
  route: 'fails',
  authLevel: 'anonymous',
  handler: () => {
    throw new Error('thrown by the function');
  },
});

function registered(name: string): coreApi.RegisteredFunction {
  const fn = coreApi.localHostInternals.functions().find((entry) => entry.metadata.name === name);
  if (fn === undefined) throw new Error(`${name} is not registered`);
  return fn;
}

function post(url: string, body: string, headers: Record<string, string> = {}): RpcHttpRequest {
  return { method: 'POST', url, headers, params: { name: 'ada' }, body: { bytes: Buffer.from(body) } };
}

describe('invoking a function as the worker does', () => {
  it("hands the handler the app's own HttpRequest and InvocationContext, and returns its response", async () => {
    const logged: string[][] = [];
    const outcome = await invokeHttpFunction(
      registered('echo'),
      'invocation-1',
      post('http://localhost:7071/api/echo/ada?tag=a&tag=b', 'the body', { 'x-in': 'header value' }),
      (level, category, message) => logged.push([level, category, message]),
    );
    expect(seen.request).toBeInstanceOf(HttpRequest);
    expect(seen.context?.invocationId).toBe('invocation-1');
    expect(seen.context?.functionName).toBe('echo');
    expect(outcome.status).toBe(201);
    expect(outcome.headers['x-echo']).toBe('header value');
    expect(outcome.body.toString()).toBe('the body|a+b');
    expect(logged).toContainEqual(['information', 'user', 'seen POST ada']);
    expect(outcome.setCookies.map(cookieAttributes)).toEqual([
      ['session=abc', 'httponly', 'path=/', 'samesite=Lax'].sort(),
      ['theme=dark', 'expires=Tue, 01 Jan 2030 00:00:00 GMT'].sort(),
    ]);
  });

  it('answers a function that returns nothing with 200 and no body', async () => {
    const outcome = await invokeHttpFunction(
      registered('nothing'),
      'invocation-2',
      { method: 'GET', url: 'http://localhost:7071/api/nothing', headers: {}, params: {} },
      () => undefined,
    );
    expect(outcome).toMatchObject({ status: 200, setCookies: [] });
    expect(outcome.body).toHaveLength(0);
  });

  it('rejects with what the function threw, for the host to answer 500', async () => {
    await expect(
      invokeHttpFunction(
        registered('fails'),
        'invocation-3',
        post('http://localhost:7071/api/fails', ''),
        () => undefined,
      ),
    ).rejects.toThrow('thrown by the function');
  });
});
