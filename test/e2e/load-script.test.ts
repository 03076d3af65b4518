import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildIfStale, cleanEnv } from './support';

/**
 * `npm run load` (dist/dev/load.js) in miniature: the same three phases and the same exact counting, with
 * the emulator and the clients in processes of their own, sized to take seconds. The full run's figures
 * are in SECURITY.md; this keeps the script itself (its child processes, IPC and counts) from breaking
 * unnoticed.
 */
const ROOT = join(__dirname, '..', '..');
const LOAD = join(ROOT, 'dist', 'dev', 'load.js');

beforeAll(async () => {
  await buildIfStale(ROOT);
}, 120_000);

test('a small load run connects every client, makes every delivery and says clean', async () => {
  const args = ['--clients', '40', '--negotiates', '100', '--concurrency', '10', '--rate', '20'];
  const { stdout } = await promisify(execFile)(process.execPath, [LOAD, ...args, '--seconds', '2'], {
    cwd: ROOT,
    env: cleanEnv(),
    timeout: 90_000,
  });
  expect(stdout).toContain('connects: 40 at once -> 40 connected, 0 failed');
  expect(stdout).toContain('negotiates: 100 at concurrency 10 -> 0 errors');
  expect(stdout).toMatch(/push: 40 messages .* -> 0 push errors/);
  expect(stdout).toContain('0 deliveries of accepted pushes lost, 0 of 1600 deliveries missing in all');
  expect(stdout).toContain('0 duplicates, 0 sockets closed');
  expect(stdout.trim().split('\n').at(-1)).toBe('load: clean');
}, 120_000);
