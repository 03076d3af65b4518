import { spawn } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `npm run start:func`: the same build under Azure Functions Core Tools, where they are installed. They are
 * an optional dependency (their installer downloads a binary, which fails on machines without internet), so
 * their absence gets an explanation rather than "command not found".
 */
const rootDir = resolve(__dirname, '..', '..');
const settings = join(rootDir, 'local.settings.json');
if (!existsSync(settings)) {
  copyFileSync(join(rootDir, 'local.settings.json.example'), settings);
  console.log('Created local.settings.json from local.settings.json.example.');
}

const child = spawn('func', ['start', ...process.argv.slice(2)], {
  cwd: rootDir,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
child.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'ENOENT') {
    console.error(
      'Azure Functions Core Tools (func) are not installed here. Install them ' +
        '(https://learn.microsoft.com/azure/azure-functions/functions-run-local), or use `npm start`, ' +
        'the local Functions host that needs Node alone.',
    );
    process.exit(127);
  }
  console.error(error.message);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
