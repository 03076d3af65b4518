import { parseArgs } from 'node:util';
import { startLocalStack, type LocalStack } from './stack';

/**
 * `npm start`: the local stack (dev/stack.ts) — the Web PubSub emulator, the local Functions host wired to
 * it, the development sign-in and the demo page. Flags: --port (7071), --emulator-port (8080),
 * --function-key (enforce function keys as Azure does), --host (127.0.0.1).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '7071' },
      'emulator-port': { type: 'string', default: '8080' },
      'function-key': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
    },
    strict: true,
  });
  const port = parsePort(values.port, '--port');
  const emulatorPort = parsePort(values['emulator-port'], '--emulator-port');
  const functionKey = values['function-key'];

  const stack = await startLocalStack({ port, emulatorPort, hostname: values.host, functionKey });

  // Handlers first: whoever waits for the banner may signal the moment it appears.
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local host...`);
    stack.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  console.log(banner(stack, functionKey !== undefined).join('\n'));
}

function banner(stack: LocalStack, keyEnforced: boolean): string[] {
  const { host } = stack;
  const api = `${host.url}/${host.routePrefix}`;
  const hub = stack.hubs[0] ?? 'chat';
  const width = Math.max(...host.functions.map((fn) => fn.name.length));
  // The emulator's connection string replaced the file's, so the file's is not what the host uses.
  const settings = host.appliedSettings.filter(
    (name) => stack.service.kind !== 'emulator' || name !== 'WebPubSubConnectionString',
  );
  const keyHeader = keyEnforced ? ` -H 'x-functions-key: <your --function-key>'` : '';
  return [
    '',
    `Local Functions host listening on ${host.url}`,
    '',
    `  Demo page:  ${host.url}/   (open it in two browser windows and chat)`,
    stack.service.kind === 'emulator'
      ? `  Web PubSub emulator: ${stack.emulatorUrl}   (hubs: ${stack.hubs.join(', ')}; events -> ${stack.eventHandlerUrl})`
      : `  Web PubSub: ${stack.service.endpoint}   (set by WebPubSub settings in ${stack.service.source}; no emulator started)`,
    ...(stack.service.kind === 'emulator' ? [`    Connection string: ${stack.connectionString}`] : []),
    '',
    ...(host.devIssuer
      ? [
          `  Sign in:    curl -X POST -H 'content-type: application/json' -d '{"sub":"alice","name":"alice"}' ${host.devIssuer.tokenEndpoint}`,
          `  Negotiate:  curl -H 'Authorization: Bearer <access_token>' '${api}/negotiate?groups=lobby,room.general'`,
        ]
      : []),
    `  Notify everyone: curl -X POST -H 'content-type: application/json'${keyHeader} -d '{"title":"Deploy","text":"v2 is live"}' ${api}/hubs/${hub}/messages`,
    '',
    ...host.functions.map(
      (fn) => `  ${fn.name.padEnd(width)}  [${fn.methods.join(',')}]  ${fn.url}  (auth: ${fn.authLevel})`,
    ),
    '',
    `  Health: ${api}/health`,
    settings.length > 0
      ? `  Settings from ${host.settingsFile ?? '-'}: ${settings.join(', ')}`
      : '  No settings applied from a local.settings file (the environment provides them).',
    keyEnforced
      ? '  Function keys are enforced for authLevel function routes.'
      : '  Function keys are not enforced (pass --function-key to enforce them as Azure does).',
    '',
    'Press Ctrl+C to stop.',
    '',
  ];
}

function parsePort(value: string | undefined, flag: string): number {
  // Digits only: Number() would also take '', ' 80', '0x50' and '1e3'.
  const port = /^\d{1,5}$/.test(value ?? '') ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`${flag} must be a port number from 0 to 65535`);
    process.exit(2);
  }
  return port;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') {
    console.error(
      'Another process uses that port: pick others with --port and --emulator-port (0 = any free port).',
    );
  }
  process.exit(1);
});
