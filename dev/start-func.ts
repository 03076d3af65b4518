import { spawn } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { createEmulator, type Emulator } from '../emulator';
import { DEFAULT_PORT as DEFAULT_EMULATOR_PORT, SYSTEM_EVENTS } from '../emulator/config';
import { explicitService, hubsFromSettings, readLocalSettings } from './stack';

/**
 * `npm run start:func`: the same build under Azure Functions Core Tools, where they are installed, with the
 * local Web PubSub emulator in front of it: local.settings.json (created from the example) points the app
 * at the emulator, and the emulator's event handler is func's webhook. An explicit WebPubSubConnectionString
 * or WebPubSubEndpoint (environment or local.settings.json) wins, and then no emulator is started.
 *
 * Core Tools are an optional dependency (their installer downloads a binary, which fails on machines without
 * internet), so their absence gets an explanation rather than "command not found". Flags: --emulator-port
 * (default 8080) is ours; everything else (e.g. --port, default 7071) goes to `func start`.
 */
const rootDir = resolve(__dirname, '..', '..');

function onPath(command: string): boolean {
  const names = process.platform === 'win32' ? [`${command}.cmd`, `${command}.exe`, command] : [command];
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .some((dir) => names.some((name) => existsSync(join(dir, name))));
}

function takeFlag(args: string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === flag) return args.splice(i, 2)[1];
    if (arg.startsWith(`${flag}=`)) return args.splice(i, 1)[0]?.slice(flag.length + 1);
  }
  return undefined;
}

function peekFlag(args: readonly string[], flag: string): string | undefined {
  const at = args.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (at < 0) return undefined;
  const arg = args[at] as string;
  return arg === flag ? args[at + 1] : arg.slice(flag.length + 1);
}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    console.error(`${flag} must be a port number from 0 to 65535`);
    process.exit(2);
  }
  return Number(value);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const emulatorPort = port(takeFlag(args, '--emulator-port'), DEFAULT_EMULATOR_PORT, '--emulator-port');
  const funcPort = port(peekFlag(args, '--port'), 7071, '--port');

  const settings = join(rootDir, 'local.settings.json');
  if (!existsSync(settings)) {
    copyFileSync(join(rootDir, 'local.settings.json.example'), settings);
    console.log('Created local.settings.json from local.settings.json.example.');
  }
  if (!onPath('func')) {
    console.error(
      'Azure Functions Core Tools (func) are not installed here. Install them ' +
        '(https://learn.microsoft.com/azure/azure-functions/functions-run-local), or use `npm start`, ' +
        'the local Functions host that needs Node alone.',
    );
    process.exit(127);
  }

  const env: NodeJS.ProcessEnv = { ...process.env };
  let emulator: Emulator | undefined;
  const explicit = explicitService(rootDir);
  if (explicit === undefined) {
    const hubs = hubsFromSettings({ ...readLocalSettings(rootDir), ...process.env });
    const urlTemplate = `http://127.0.0.1:${funcPort}/api/webpubsub/events`;
    emulator = await createEmulator({
      port: emulatorPort,
      hubs: Object.fromEntries(
        hubs.map((hub) => [
          hub,
          { eventHandlers: [{ urlTemplate, systemEvents: [...SYSTEM_EVENTS], userEventPattern: '*' }] },
        ]),
      ),
    });
    // The environment wins over local.settings.json under func too, so the emulator's bound port is used.
    env.WebPubSubConnectionString = emulator.connectionString;
    console.log(
      [
        '',
        `Web PubSub emulator: ${emulator.endpoint}   (hubs: ${hubs.join(', ')}; events -> ${urlTemplate})`,
        `  Connection string: ${emulator.connectionString}`,
        '  Under func there is no development sign-in: set NegotiateIssuer and NegotiateAudience to your',
        '  identity provider to use negotiate, or use `npm start` for the whole local stack.',
        '',
      ].join('\n'),
    );
  } else {
    console.log(`Web PubSub: the service set in ${explicit.source} (no emulator started).`);
  }

  const child = spawn('func', ['start', ...args], {
    cwd: rootDir,
    env,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  const finish = (code: number): void => {
    void (emulator?.close() ?? Promise.resolve()).finally(() => process.exit(code));
  };
  child.on('error', (error) => {
    console.error(error.message);
    finish(1);
  });
  child.on('exit', (code, signal) => finish(code ?? (signal ? 1 : 0)));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
