import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { startLocalHost, type LocalHost } from '../../dev/host/server';
import { hookCalls } from '../fixtures/host-app/src/state';
import { cookieAttributes } from '../support/set-cookie';

/**
 * The local Functions host, in process, serving a fixture app (test/fixtures/host-app) over real HTTP.
 * The fixture has its own host.json (routePrefix "/local/v1/") and local.settings.json.
 */
const FIXTURE = join(__dirname, '..', 'fixtures', 'host-app');
const FUNCTION_KEY = 'secret-function-key';
const GREETING = 'LOCAL_HOST_FIXTURE_GREETING';
const OVERRIDDEN = 'LOCAL_HOST_FIXTURE_OVERRIDDEN';

let host: LocalHost;
const logLines: string[] = [];
let base: string;

beforeAll(async () => {
  expect(process.env[GREETING]).toBeUndefined();
  expect(process.env[OVERRIDDEN]).toBeUndefined();
  process.env[OVERRIDDEN] = 'from the environment';
  host = await startLocalHost({
    rootDir: FIXTURE,
    port: 0,
    entry: ['src/functions.ts'],
    functionKey: FUNCTION_KEY,
    log: (line) => logLines.push(line),
  });
  base = `http://127.0.0.1:${host.port}/local/v1`;
});

afterAll(async () => {
  await host.close();
  Reflect.deleteProperty(process.env, GREETING);
  Reflect.deleteProperty(process.env, OVERRIDDEN);
});

function get(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${base}${path}`, init);
}

async function json(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toBe('application/json');
  return (await response.json()) as Record<string, unknown>;
}

/** A GET with the same header sent on several lines, which fetch cannot do (it joins them itself). */
function getWithRepeatedHeader(
  path: string,
  name: string,
  values: string[],
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers: { [name]: values } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('local host: startup', () => {
  it('listens on the port it was given (0 = a free one) and reports it in its url', () => {
    expect(host.port).toBeGreaterThan(0);
    expect(host.url).toBe(`http://localhost:${host.port}`);
  });

  it('calls the appStart hook before serving', async () => {
    expect(hookCalls).toEqual(['appStart']);
    expect(await json(await get('/started'))).toEqual({ hookCalls: ['appStart'] });
  });

  it('lists the functions the app registered, with their prefixed urls', () => {
    const byName = new Map(host.functions.map((fn) => [fn.name, fn]));
    expect(byName.get('itemById')).toEqual({
      name: 'itemById',
      route: 'items/{id:int}/{slug?}',
      methods: ['GET'],
      authLevel: 'anonymous',
      url: `${host.url}/local/v1/items/{id:int}/{slug?}`,
    });
    expect(byName.get('secured')?.authLevel).toBe('function');
    expect(byName.get('bodyJson')?.methods).toEqual(['POST', 'PUT']);
    expect(byName.get('noRoute')?.url).toBe(`${host.url}/local/v1/noRoute`);
  });
});

describe('local host: host.json and local.settings.json', () => {
  it('honours the routePrefix of host.json (slashes trimmed)', async () => {
    expect(host.routePrefix).toBe('local/v1');
    expect((await fetch(`http://127.0.0.1:${host.port}/local/v1/started`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${host.port}/LOCAL/V1/started`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${host.port}/api/started`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${host.port}/started`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${host.port}/local/started`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${host.port}/local/v2/started`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${host.port}/api/v1/started`)).status).toBe(404);
  });

  it('applies Values from local.settings.json, but a variable already set in the environment wins', async () => {
    expect(await json(await get('/settings'))).toEqual({
      greeting: 'hello from local.settings.json',
      overridden: 'from the environment',
    });
    expect(process.env[GREETING]).toBe('hello from local.settings.json');
    expect(host.settingsFile).toBe('local.settings.json');
    expect(host.appliedSettings).toEqual([GREETING]);
  });
});

describe('local host: routing', () => {
  it('passes route parameters, with an optional last one left out or given', async () => {
    expect((await json(await get('/items/42'))).params).toEqual({ id: '42' });
    expect((await json(await get('/items/42/my-slug'))).params).toEqual({ id: '42', slug: 'my-slug' });
  });

  it('percent-decodes parameters, keeping an encoded slash inside its parameter', async () => {
    expect((await json(await get('/items/7/a%2Fb'))).params).toEqual({ id: '7', slug: 'a/b' });
    expect((await json(await get('/items/7/caf%C3%A9'))).params).toEqual({ id: '7', slug: 'café' });
    expect((await json(await get('/files/dir/sub/file.txt'))).params).toEqual({ path: 'dir/sub/file.txt' });
  });

  it('answers 404 when a constraint or the encoding does not fit', async () => {
    expect((await get('/items/abc')).status).toBe(404);
    expect((await get('/items/7/%E0%A4%A')).status).toBe(404);
    expect((await get('/items/7/a/b')).status).toBe(404);
  });

  it('prefers a literal route to a parameter route registered before it', async () => {
    expect(await json(await get('/things/special'))).toEqual({ function: 'specialThing' });
    expect(await json(await get('/things/other'))).toEqual({
      function: 'thingByName',
      params: { name: 'other' },
    });
  });

  it('serves a function without a route under its name, case-insensitively', async () => {
    for (const path of ['/noRoute', '/noroute']) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('served under the function name');
    }
  });

  it('answers a method the function does not accept with a bare 404, as the Functions host does', async () => {
    for (const [path, method] of [
      ['/started', 'POST'],
      ['/body/json', 'GET'],
      ['/body/json', 'DELETE'],
      ['/items/1', 'PUT'],
    ] as const) {
      const response = await get(path, { method });
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('');
    }
  });

  it('answers an unknown path with a bare 404', async () => {
    const response = await get('/nothing/here');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-length')).toBe('0');
    expect(await response.text()).toBe('');
  });
});

describe('local host: the request the function sees', () => {
  it('has the method, the full url and the query, repeated names included', async () => {
    const described = await json(await get('/items/1?x=1&x=2&name=caf%C3%A9&empty='));
    expect(described.method).toBe('GET');
    expect(described.url).toBe(`${host.url}/local/v1/items/1?x=1&x=2&name=caf%C3%A9&empty=`);
    expect(described.query).toEqual({ x: ['1', '2'], name: ['café'], empty: [''] });
  });

  it('has the request headers, names lower-cased', async () => {
    const headers = await json(await get('/headers', { headers: { 'X-Custom-Header': 'Value One' } }));
    expect(headers['x-custom-header']).toBe('Value One');
    expect(headers.host).toBe(`127.0.0.1:${host.port}`);
  });

  it('joins a header sent on several lines with ", "', async () => {
    const response = await getWithRepeatedHeader('/headers', 'x-repeated', ['first', 'second', 'third']);
    expect(response.status).toBe(200);
    expect((JSON.parse(response.body) as Record<string, string>)['x-repeated']).toBe('first, second, third');
  });

  it('has the body bytes exactly as sent', async () => {
    const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255, 0x0d, 0x0a]);
    const response = await get('/body/bytes', {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(await json(response)).toEqual({
      hex: '0001027f80feff0d0a',
      contentType: 'application/octet-stream',
    });
  });

  it('decodes a UTF-8 text body', async () => {
    const response = await get('/body/text', {
      method: 'POST',
      body: 'héllo ☃ wörld',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
    expect(await json(response)).toEqual({ text: 'héllo ☃ wörld' });
  });

  it('parses a JSON body with req.json(), for each accepted method', async () => {
    for (const method of ['POST', 'PUT']) {
      const response = await get('/body/json', {
        method,
        body: '{"a":[1,2],"b":"é","c":null}',
        headers: { 'content-type': 'application/json' },
      });
      expect(await json(response)).toEqual({ method, received: { a: [1, 2], b: 'é', c: null } });
    }
  });
});

describe('local host: the response it writes back', () => {
  it('writes jsonBody as application/json', async () => {
    const response = await get('/respond/json');
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ kind: 'json', list: [1, 2, 3] });
  });

  it('writes a string body as UTF-8 text/plain with its length', async () => {
    const response = await get('/respond/string');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(response.headers.get('content-length')).toBe('15');
    expect(await response.text()).toBe('plain text body');
  });

  it('writes a Uint8Array body byte for byte', async () => {
    const response = await get('/respond/bytes');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-length')).toBe('6');
    expect(Buffer.from(await response.arrayBuffer()).toString('hex')).toBe('000102fdfeff');
  });

  it('accepts an HttpResponse instance, with its status and headers', async () => {
    const response = await get('/respond/instance');
    expect(response.status).toBe(201);
    expect(response.headers.get('x-instance')).toBe('yes');
    expect(await json(response)).toEqual({ created: true });
  });

  it('writes a status-only response with an empty body', async () => {
    const response = await get('/respond/status');
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('writes the custom headers the function set', async () => {
    const response = await get('/respond/headers');
    expect(response.status).toBe(202);
    expect(response.headers.get('x-custom')).toBe('one');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe('accepted');
  });

  it('writes each cookie as its own Set-Cookie header, with its attributes', async () => {
    const response = await get('/respond/cookies');
    expect(response.status).toBe(200);
    const cookies = response.headers.getSetCookie();
    expect(cookies).toHaveLength(2);
    expect(cookieAttributes(cookies[0]!)).toEqual(
      ['session=abc123', 'max-age=3600', 'path=/', 'httponly', 'secure', 'samesite=Strict'].sort(),
    );
    expect(cookieAttributes(cookies[1]!)).toEqual(
      ['theme=dark', 'domain=example.com', 'expires=Tue, 01 Jan 2030 00:00:00 GMT'].sort(),
    );
    expect(await response.text()).toBe('cookies set');
  });

  it('answers a function that throws with a bare 500 and logs the error', async () => {
    const before = logLines.length;
    const response = await get('/respond/throw');
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBeNull();
    expect(await response.text()).toBe('');
    const logged = logLines.slice(before).join('\n');
    expect(logged).toContain('[respond] error: Error: boom from the fixture');
    expect(logged).toContain('GET /local/v1/respond/throw -> 500 respond');
  });

  it('answers HEAD with the headers and length of the body, but no body', async () => {
    const response = await get('/head', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-head')).toBe('present');
    expect(response.headers.get('content-length')).toBe('5');
    expect(await response.text()).toBe('');
    const asGet = await get('/head');
    expect(await asGet.text()).toBe('hello');
  });

  it('does not answer HEAD for a function that accepts only GET', async () => {
    expect((await get('/started', { method: 'HEAD' })).status).toBe(404);
  });
});

describe('local host: function keys', () => {
  it('refuses an authLevel function route without a key with a bare 401', async () => {
    const response = await get('/secured');
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('');
  });

  it('accepts the key as ?code= or as x-functions-key', async () => {
    const byQuery = await get(`/secured?code=${FUNCTION_KEY}`);
    expect(byQuery.status).toBe(200);
    expect(await byQuery.text()).toBe('only with a key');
    const byHeader = await get('/secured', { headers: { 'x-functions-key': FUNCTION_KEY } });
    expect(byHeader.status).toBe(200);
  });

  it('refuses a wrong key, a key of another length and an empty key', async () => {
    for (const code of ['secret-function-kez', 'secret', '']) {
      expect((await get(`/secured?code=${code}`)).status).toBe(401);
      expect((await get('/secured', { headers: { 'x-functions-key': code } })).status).toBe(401);
    }
  });

  it('checks the x-functions-key header first, as the Functions host does', async () => {
    const response = await get(`/secured?code=${FUNCTION_KEY}`, { headers: { 'x-functions-key': 'wrong' } });
    expect(response.status).toBe(401);
  });

  it('does not ask for a key on anonymous routes', async () => {
    expect((await get('/started')).status).toBe(200);
  });

  it('checks the route before the key: an unknown path is 404, not 401', async () => {
    expect((await get('/no/such/route')).status).toBe(404);
  });
});

describe('local host: request log', () => {
  it('logs one line per request with method, path, status and function, never the query string', async () => {
    const before = logLines.length;
    expect((await get(`/secured?code=${FUNCTION_KEY}&token=secret-token`)).status).toBe(200);
    expect((await get('/secured?code=secret-but-wrong')).status).toBe(401);
    expect((await get('/items/1?code=secret-elsewhere')).status).toBe(200);
    const lines = logLines.slice(before);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^GET \/local\/v1\/secured -> 200 secured \(\d+\.\d ms\)$/);
    expect(lines[1]).toMatch(/^GET \/local\/v1\/secured -> 401 secured \(\d+\.\d ms\)$/);
    expect(lines[2]).toMatch(/^GET \/local\/v1\/items\/1 -> 200 itemById /);
    for (const line of logLines) expect(line).not.toContain('secret');
    for (const line of logLines.filter((l) => /^[A-Z]+ \//.test(l))) expect(line).not.toContain('?');
  });

  it('passes the function log (context.log) to the log option, tagged with the function name', async () => {
    const before = logLines.length;
    await get('/headers');
    expect(logLines.slice(before)).toContainEqual(
      expect.stringMatching(/^\[headers\] information: headers seen: \d+$/),
    );
  });

  it('logs a 404 with "-" for the function', async () => {
    const before = logLines.length;
    await get('/nothing');
    expect(logLines.slice(before)).toEqual([expect.stringMatching(/^GET \/local\/v1\/nothing -> 404 - /)]);
  });
});

describe('a second host over the same app without a function key', () => {
  let open: LocalHost | undefined;
  const secondLog: string[] = [];

  beforeAll(async () => {
    open = await startLocalHost({
      rootDir: FIXTURE,
      port: 0,
      entry: ['src/functions.ts'],
      log: (line) => secondLog.push(line),
    });
  });

  afterAll(async () => {
    await open?.close();
  });

  it('does not enforce keys when none was given (as Core Tools)', async () => {
    const response = await fetch(`http://127.0.0.1:${open!.port}/local/v1/secured`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('only with a key');
  });

  it('applies no settings that are already set', () => {
    expect(open!.appliedSettings).toEqual([]);
  });

  it('calls the appTerminate hook and stops listening when closed', async () => {
    const port = open!.port;
    const before = hookCalls.length;
    await open!.close();
    open = undefined;
    expect(hookCalls.slice(before)).toEqual(['appTerminate']);
    await expect(fetch(`http://127.0.0.1:${port}/local/v1/started`)).rejects.toThrow();
  });
});
