import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_PORT,
  EmulatorConfigError,
  SYSTEM_EVENTS,
  type EmulatorOptions,
  type HubOptions,
} from './config';
import { createEmulator, type Emulator } from './server';

const USAGE = `Usage: npm run emulator -- [options]

  --port <n>               port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <address>         address to listen on (default 127.0.0.1)
  --access-key <key>       primary access key (default: the documented public key of Microsoft's emulator)
  --secondary-access-key <key>
                           a second accepted key; ce-signature then carries both signatures
  --upstream [<hub>=]<url> an event handler for that hub (or every hub) receiving connect, connected,
                           disconnected and every user event; {hub} and {event} are replaced; repeatable
  --config <file.json>     options as JSON: { "accessKey", "secondaryAccessKey", "hubs": { "<hub>|*":
                           { "eventHandlers": [ { "urlTemplate", "systemEvents": [...], "userEventPattern" } ] } } }
  -h, --help               this text
`;

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new EmulatorConfigError(`--port must be 0-65535, not "${text}"`);
  return port;
}

function readConfigFile(path: string): EmulatorOptions {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new EmulatorConfigError(`--config ${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as EmulatorOptions;
  } catch (error) {
    throw new EmulatorConfigError(`--config ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** `[hub=]url` (the url itself may hold `=` in its query, so only a leading hub name is split off). */
function upstreamEntry(entry: string): [string, string] {
  const match = /^([A-Za-z][A-Za-z0-9_`,.[\]]*|\*)=(.+)$/.exec(entry);
  return match ? [match[1] as string, match[2] as string] : ['*', entry];
}

export function optionsFromArgs(args: readonly string[]): EmulatorOptions | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'access-key': { type: 'string' },
      'secondary-access-key': { type: 'string' },
      upstream: { type: 'string', multiple: true },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const options: EmulatorOptions = values.config === undefined ? {} : readConfigFile(values.config);
  if (values.port !== undefined) options.port = parsePort(values.port);
  if (values.host !== undefined) options.host = values.host;
  if (values['access-key'] !== undefined) options.accessKey = values['access-key'];
  if (values['secondary-access-key'] !== undefined)
    options.secondaryAccessKey = values['secondary-access-key'];
  if (values.upstream !== undefined) {
    const hubs: Record<string, HubOptions> = { ...(options.hubs ?? {}) };
    for (const entry of values.upstream) {
      const [hub, urlTemplate] = upstreamEntry(entry);
      const handlers = [...(hubs[hub]?.eventHandlers ?? [])];
      handlers.push({ urlTemplate, systemEvents: [...SYSTEM_EVENTS], userEventPattern: '*' });
      hubs[hub] = { eventHandlers: handlers };
    }
    options.hubs = hubs;
  }
  return options;
}

/** What a person needs to use the emulator; never the access key unless it is the public default. */
export function formatBanner(emulator: Emulator, options: EmulatorOptions): string {
  const defaultKey = (options.accessKey ?? DEFAULT_ACCESS_KEY) === DEFAULT_ACCESS_KEY;
  const hubs = Object.entries(options.hubs ?? {});
  const lines = [
    '',
    `Azure Web PubSub emulator listening on ${emulator.endpoint}`,
    '',
    `  Connection string: ${emulator.connectionString}`,
    `  Client endpoint:   ${emulator.clientEndpoint}`,
    `  Health:            ${emulator.healthUrl} (HEAD)`,
  ];
  if (defaultKey) lines.push('  Access key:        the documented default (pass --access-key to change it)');
  if (hubs.length === 0) lines.push('  Event handlers:    none (pass --upstream or --config)');
  for (const [hub, settings] of hubs) {
    for (const handler of settings.eventHandlers ?? []) {
      lines.push(
        `  Event handler:     hub ${hub} -> ${handler.urlTemplate.replace(/\?.*$/, '?…')}` +
          ` (system: ${(handler.systemEvents ?? []).join(',') || '-'}; user: ${handler.userEventPattern ?? '-'})`,
      );
    }
  }
  if (options.host !== undefined && ['0.0.0.0', '::', '[::]'].includes(options.host)) {
    lines.push(
      `  Listening on every interface: other machines use this host's name or address instead of localhost.`,
    );
  }
  lines.push('', 'Press Ctrl+C to stop.', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  let options: EmulatorOptions | undefined;
  try {
    options = optionsFromArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`emulator: ${(error as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  const emulator = await createEmulator({
    ...options,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(formatBanner(emulator, options));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`emulator: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    // Startup fails loudly: the configuration error (or EADDRINUSE) is the whole message.
    process.stderr.write(
      `emulator: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}
