import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * "No unhandled promise rejection anywhere (tests fail on one)": jest-circus (30) already installs process
 * handlers for unhandledRejection and uncaughtException during a run and fails the test they surface in, so
 * the suite needs no guard of its own. This pins that: a fixture file with one of each is run by jest, with
 * this repository's transform, and must report exactly those two tests as failed with their reasons.
 */
const ROOT = join(__dirname, '..', '..');

test('a test with an unhandled rejection or an uncaught exception fails', async () => {
  const config = {
    rootDir: ROOT,
    roots: ['<rootDir>/test/fixtures/unhandled'],
    testMatch: ['**/*.fixture.ts'],
    testEnvironment: 'node',
    transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  };
  const run = promisify(execFile)(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--config',
      JSON.stringify(config),
      '--json',
      '--ci',
    ],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  // jest exits 1 when a test fails: that is the expected outcome here.
  const { stdout } = await run.then(
    () => {
      throw new Error('the fixture run passed: unhandled errors no longer fail tests');
    },
    (error: unknown) => error as { stdout: string },
  );
  const report = JSON.parse(stdout) as {
    numFailedTests: number;
    numPassedTests: number;
    testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[];
  };
  const results = report.testResults.flatMap((file) => file.assertionResults);
  const outcome = Object.fromEntries(results.map((result) => [result.title, result.status]));
  expect(outcome).toEqual({
    'a rejection nobody handles': 'failed',
    'an exception thrown from a callback': 'failed',
    'a clean test': 'passed',
  });
  const messages = results.flatMap((result) => result.failureMessages).join('\n');
  expect(messages).toContain('nobody handles this rejection');
  expect(messages).toContain('thrown from a timer callback');
}, 30000);
