import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { buildIfStale, cleanEnv } from './support';

/**
 * `npm run start:func` (dist/dev/start-func.js) with a stand-in `func` on PATH: the emulator must be up
 * before func starts, func gets `start` and the other flags, and the app's connection string in func's
 * environment is the emulator's (on its bound port). Real Core Tools are not needed to check the wiring.
 */
const ROOT = join(__dirname, '..', '..');
const START_FUNC = join(ROOT, 'dist', 'dev', 'start-func.js');
const bin = mkdtempSync(join(tmpdir(), 'fake-func-'));

beforeAll(async () => {
  await buildIfStale(ROOT);
  writeFileSync(
    join(bin, 'func'),
    `#!${process.execPath}
const cs = process.env.WebPubSubConnectionString ?? '';
const endpoint = (/Endpoint=([^;]+)/.exec(cs) ?? [])[1] ?? '';
fetch(endpoint.replace('localhost', '127.0.0.1') + '/api/health', { method: 'HEAD' }).then(
  (r) => { console.log('FAKE-FUNC ' + JSON.stringify({ args: process.argv.slice(2), endpoint, health: r.status })); process.exit(3); },
  (e) => { console.log('FAKE-FUNC failed ' + e.message); process.exit(4); },
);
`,
  );
  chmodSync(join(bin, 'func'), 0o755);
}, 120_000);

afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe('npm run start:func', () => {
  it('starts the emulator, then func start with the connection string of the emulator, and exits with its code', async () => {
    const settings = join(ROOT, 'local.settings.json');
    const hadSettings = existsSync(settings);
    try {
      const child = spawn(process.execPath, [START_FUNC, '--emulator-port', '0', '--port', '7999'], {
        cwd: ROOT,
        env: { ...cleanEnv(), PATH: [bin, dirname(process.execPath)].join(delimiter) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      const [code] = (await once(child, 'exit')) as [number | null];
      const emulator = /Web PubSub emulator: (http:\/\/localhost:\d+)/.exec(stdout)?.[1];
      expect(emulator).toBeDefined();
      expect(stdout).toContain('events -> http://127.0.0.1:7999/api/webpubsub/events');
      const report = JSON.parse(/FAKE-FUNC (.*)/.exec(stdout)?.[1] ?? 'null') as Record<string, unknown>;
      expect(report).toEqual({ args: ['start', '--port', '7999'], endpoint: emulator, health: 200 });
      // func's exit code is passed on (and the emulator closed, or the process would not have exited).
      expect(code).toBe(3);
    } finally {
      if (!hadSettings) rmSync(settings, { force: true });
    }
  });
});
