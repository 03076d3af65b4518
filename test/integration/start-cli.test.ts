import { execFile, spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ACCESS_KEY } from '../support/cloud-events';

/** The real `npm start` entry (dist/dev/start.js), built once and run as its own process. */
const ROOT = join(__dirname, '..', '..');
const START = join(ROOT, 'dist', 'dev', 'start.js');

interface Started {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

/** The environment without our app settings, plus the connection string, so no settings file is needed. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('WebPubSub') && name !== 'AZURE_CLIENT_ID') env[name] = value;
  }
  env.WebPubSubConnectionString = `Endpoint=https://myresource.webpubsub.azure.com;AccessKey=${ACCESS_KEY};Version=1.0;`;
  env.WebPubSubHub = 'chat';
  return env;
}

function start(args: string[]): Started {
  const child = spawn(process.execPath, [START, ...args], {
    cwd: ROOT,
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with the first match of `pattern` on stdout; rejects if the process exits first. */
function waitForStdout(started: Started, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = pattern.exec(started.stdout());
      if (match) {
        started.child.stdout.off('data', check);
        resolve(match);
      }
    };
    started.child.stdout.on('data', check);
    void started.exited.then(({ code, signal }) =>
      reject(
        new Error(
          `exited (${code ?? signal}) before printing ${pattern}\n${started.stdout()}${started.stderr()}`,
        ),
      ),
    );
    check();
  });
}

beforeAll(async () => {
  await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
}, 90_000);

afterAll(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

describe('npm start (dist/dev/start.js)', () => {
  it('serves the app on the bound port of --port 0 and stops cleanly on SIGTERM', async () => {
    const started = start(['--port', '0']);
    const [, url, port] = await waitForStdout(
      started,
      /Local Functions host listening on (http:\/\/localhost:(\d+))\n/,
    );
    expect(Number(port)).toBeGreaterThan(0);
    // The banner lists the registered functions and the health URL on the same bound port.
    expect(started.stdout()).toContain(`${url}/api/webpubsub/events`);
    expect(started.stdout()).toContain(`Health: ${url}/api/health`);

    const health = await fetch(`http://127.0.0.1:${port}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', serviceMode: 'key', hubs: ['chat'] });

    started.child.kill('SIGTERM');
    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(started.stdout()).toContain('SIGTERM: stopping the local host');
    await expect(fetch(`http://127.0.0.1:${port}/api/health`)).rejects.toThrow();
  });

  it('stops on SIGINT (Ctrl+C) too', async () => {
    const started = start(['--port', '0']);
    await waitForStdout(started, /listening on http:\/\/localhost:\d+\n/);
    started.child.kill('SIGINT');
    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(started.stdout()).toContain('SIGINT: stopping the local host');
  });

  it('enforces function keys with --function-key', async () => {
    const started = start(['--port', '0', '--function-key', 'cli-key']);
    const [, port] = await waitForStdout(started, /listening on http:\/\/localhost:(\d+)\n/);
    expect(started.stdout()).toContain('Function keys are enforced');
    const events = `http://127.0.0.1:${port}/api/webpubsub/events`;
    const headers = { 'WebHook-Request-Origin': 'myresource.webpubsub.azure.com' };
    expect((await fetch(events, { method: 'OPTIONS', headers })).status).toBe(401);
    expect((await fetch(`${events}?code=cli-key`, { method: 'OPTIONS', headers })).status).toBe(200);
    started.child.kill('SIGTERM');
    expect((await started.exited).code).toBe(0);
  });

  it.each([
    ['--port', 'abc'],
    ['--port', ''],
    ['--port', '0x50'],
    ['--port', '70000'],
    ['--port', '-1'],
    ['--emulator-port', 'abc'],
  ])('exits with code 2 and names the flag for %s %j', async (flag, value) => {
    const started = start([`${flag}=${value}`]);
    expect(await started.exited).toEqual({ code: 2, signal: null });
    expect(started.stderr()).toContain(`${flag} must be a port number`);
    expect(started.stdout()).not.toContain('listening');
  });
});

describe('npm run start:func without Azure Functions Core Tools', () => {
  it('explains that func is missing and points to npm start, exiting 127', async () => {
    const settings = join(ROOT, 'local.settings.json');
    const hadSettings = existsSync(settings);
    try {
      // A PATH with node alone: no func anywhere on it.
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'dev', 'start-func.js')], {
        cwd: ROOT,
        env: { ...cliEnv(), PATH: dirname(process.execPath) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(127);
      expect(stderr).toMatch(/Core Tools \(func\) are not installed/);
      expect(stderr).toMatch(/npm start/);
      expect(existsSync(settings)).toBe(true); // created from the example for func to read
    } finally {
      if (!hadSettings) rmSync(settings, { force: true });
    }
  });
});
