import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalHost } from './host/server';

/**
 * `npm start`: the local Functions host on Node alone. Flags: --port (7071), --emulator-port (8080, used
 * once the local Web PubSub emulator is part of the stack), --function-key (enforce function keys).
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
  parsePort(values['emulator-port'], '--emulator-port');

  const rootDir = resolve(__dirname, '..', '..');
  const host = await startLocalHost({
    rootDir,
    port,
    hostname: values.host,
    functionKey: values['function-key'],
    devIssuer: true,
  });

  const width = Math.max(...host.functions.map((fn) => fn.name.length));
  const lines = [
    '',
    `Local Functions host listening on ${host.url}`,
    '',
    ...host.functions.map(
      (fn) => `  ${fn.name.padEnd(width)}  [${fn.methods.join(',')}]  ${fn.url}  (auth: ${fn.authLevel})`,
    ),
    '',
    `  Health: ${host.url}/${host.routePrefix}/health`,
    ...(host.devIssuer
      ? [
          `  Development issuer: ${host.devIssuer.issuer} (sign in: POST ${host.devIssuer.tokenEndpoint} {"sub":"alice"},`,
          `    then GET ${host.url}/${host.routePrefix}/negotiate with Authorization: Bearer <access_token>)`,
        ]
      : []),
    host.appliedSettings.length > 0
      ? `  Settings from ${host.settingsFile ?? '-'}: ${host.appliedSettings.join(', ')}`
      : '  No settings applied from a local.settings file (the environment provides them).',
    values['function-key'] === undefined
      ? '  Function keys are not enforced (pass --function-key to enforce them as Azure does).'
      : '  Function keys are enforced for authLevel function routes.',
    '',
    'Press Ctrl+C to stop.',
    '',
  ];
  // Handlers first: whoever waits for the banner may signal the moment it appears.
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local host...`);
    host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  console.log(lines.join('\n'));
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
  process.exit(1);
});
