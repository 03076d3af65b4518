import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient } from '@azure/web-pubsub-client';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveStaticPath, serveStatic } from '../../dev/host/static';
import {
  isDefaultEmulatorConnectionString,
  missingPageHtml,
  startLocalStack,
  type LocalStack,
} from '../../dev/stack';
import { DEFAULT_ACCESS_KEY } from '../../emulator/config';

/**
 * startLocalStack: the wiring (host -> emulator connection string, emulator -> host webhook), the demo page
 * served from a folder beside the API without shadowing it, and explicit settings winning over the stack.
 */
const ROOT = join(__dirname, '..', '..');
const ENTRY = ['src/functions/*.ts'];
const web = mkdtempSync(join(tmpdir(), 'stack-web-'));

/** A raw GET, so that paths such as /../ reach the server unnormalised (fetch would resolve them). */
function rawGet(
  port: number,
  path: string,
): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let stack: LocalStack;

beforeAll(async () => {
  writeFileSync(join(web, 'index.html'), '<!doctype html><html><body>chat page</body></html>');
  writeFileSync(join(web, 'app.js'), 'console.log("app");');
  mkdirSync(join(web, 'assets'));
  writeFileSync(join(web, 'assets', 'styles.css'), 'body{}');
  stack = await startLocalStack({ port: 0, emulatorPort: 0, entry: ENTRY, webDir: web, log: () => {} });
}, 30_000);

afterAll(async () => {
  await stack.close();
  rmSync(web, { recursive: true, force: true });
});

describe('the local stack', () => {
  it('points the host at the emulator, and the emulator at the host webhook', async () => {
    expect(stack.service).toEqual({ kind: 'emulator' });
    expect(stack.eventHandlerUrl).toBe(`http://127.0.0.1:${stack.host.port}/api/webpubsub/events`);
    expect(stack.connectionString).toBe(
      `Endpoint=${stack.emulatorUrl};AccessKey=${DEFAULT_ACCESS_KEY};Version=1.0;`,
    );
    const health = (await (await fetch(`${stack.url}/api/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({
      status: 'ok',
      serviceMode: 'key',
      endpoint: stack.emulatorUrl,
      hubs: ['chat'],
    });
    // A token from the official SDK connects only if the emulator's connect event passes our webhook.
    const tokens = new WebPubSubServiceClient(stack.connectionString, 'chat', {
      allowInsecureConnection: true,
    });
    const { url } = await tokens.getClientAccessToken({ userId: 'sdk-user' });
    const client = new WebPubSubClient(url, { keepAliveIntervalInMs: 0, keepAliveTimeoutInMs: 0 });
    const connected = new Promise<string>((resolve) =>
      client.on('connected', (e) => resolve(e.connectionId)),
    );
    await client.start();
    expect(await tokens.connectionExists(await connected)).toBe(true);
    client.stop();
  });

  it('serves the page and its assets with their content types', async () => {
    const page = await fetch(`${stack.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('chat page');
    const script = await fetch(`${stack.url}/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const css = await fetch(`${stack.url}/assets/styles.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const head = await fetch(`${stack.url}/app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String('console.log("app");'.length));
    expect((await fetch(`${stack.url}/missing.js`)).status).toBe(404);
    expect((await fetch(`${stack.url}/app.js`, { method: 'POST' })).status).toBe(404);
  });

  it('never serves a file outside the folder', async () => {
    for (const path of [
      '/../package.json',
      '/..%2fpackage.json',
      '/%2e%2e/package.json',
      '/assets/..%5c..%5cpackage.json',
      '/a%00b',
    ]) {
      const answer = await rawGet(stack.host.port, path);
      expect([400, 404]).toContain(answer.status);
      expect(answer.body).not.toContain('"name"');
    }
  });

  it('does not shadow the API or the development issuer', async () => {
    writeFileSync(join(web, 'api'), 'not the api');
    expect((await fetch(`${stack.url}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${stack.url}/api`)).status).toBe(404);
    const jwks = await fetch(`${stack.url}/.dev-issuer/jwks`);
    expect(jwks.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
  });
});

describe('static paths', () => {
  it.each([
    ['/', 'index.html'],
    ['/app.js', 'app.js'],
    ['/assets/styles.css', join('assets', 'styles.css')],
    ['/a%20b.txt', 'a b.txt'],
  ])('%s is %s inside the folder', (path, file) => {
    expect(resolveStaticPath('/srv/web', path)).toBe(join('/srv/web', file));
  });

  it.each(['/../x', '/a/../../x', '/%2e%2e/x', '/..%2fx', '/a%5cb', '/%00', '/%E0%A4%A'])(
    '%s is refused',
    (path) => {
      expect(resolveStaticPath('/srv/web', path)).toBeUndefined();
    },
  );
});

describe('settings', () => {
  it('the example settings point at the emulator the stack starts by default (address and key)', () => {
    const example = JSON.parse(readFileSync(join(ROOT, 'local.settings.json.example'), 'utf8')) as {
      Values: Record<string, string>;
    };
    expect(isDefaultEmulatorConnectionString(example.Values.WebPubSubConnectionString as string)).toBe(true);
    expect(example.Values.NegotiateAllowedGroups).toBe('lobby,room.*,user.{userId}');
  });

  it('only the default emulator address and key count as "the local emulator"; any other string is explicit', () => {
    // The stack itself with an explicit setting runs in quick-start.test.ts (its own process: settings are
    // cached per process).
    const explicit =
      'Endpoint=https://myresource.webpubsub.azure.com;AccessKey=' + 'k'.repeat(44) + ';Version=1.0;';
    expect(isDefaultEmulatorConnectionString(explicit)).toBe(false);
    expect(
      isDefaultEmulatorConnectionString(
        `Endpoint=http://127.0.0.1:8080;AccessKey=${DEFAULT_ACCESS_KEY};Version=1.0;`,
      ),
    ).toBe(true);
    expect(
      isDefaultEmulatorConnectionString(
        `Endpoint=http://localhost;Port=8080;AccessKey=${DEFAULT_ACCESS_KEY};Version=1.0;`,
      ),
    ).toBe(true);
    expect(
      isDefaultEmulatorConnectionString(`Endpoint=http://localhost:9090;AccessKey=${DEFAULT_ACCESS_KEY};`),
    ).toBe(false);
    expect(
      isDefaultEmulatorConnectionString(
        'Endpoint=http://localhost:8080;AccessKey=another-key-of-enough-length-000;',
      ),
    ).toBe(false);
  });
});

describe('a page folder that does not exist', () => {
  it('answers / with a page saying how to build it, and other files with 404', async () => {
    const html = missingPageHtml('/nowhere/web/dist');
    expect(html).toContain('npm run build:web');
    const server = createServer((req, res) => {
      void serveStatic(
        { dir: '/nowhere/web/dist', missingIndexHtml: html },
        new URL(req.url ?? '/', 'http://x').pathname,
        'GET',
        res,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const page = await rawGet(port, '/');
    expect(page).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(page.body).toContain('npm run build:web');
    expect((await rawGet(port, '/app.js')).status).toBe(404);
    await new Promise((resolve) => server.close(resolve));
  });
});
