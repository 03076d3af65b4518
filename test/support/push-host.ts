import { join } from 'node:path';
import { startLocalHost, type LocalHost } from '../../dev/host/server';

/**
 * The real push registrations (and the OpenAPI route) served by the local Functions host on port 0, with the
 * given settings. Configuration is read once per module registry, so the settings are in place before the
 * host loads the app, and every other setting of ours is cleared for the file's lifetime.
 */
const ROOT = join(__dirname, '..', '..');
export const PUSH_ENTRY = ['src/functions/push.ts', 'src/functions/openapi.ts'];

export interface PushHost {
  host: LocalHost;
  logLines: string[];
  url(pathAndQuery: string): string;
  close(): Promise<void>;
}

function isAppSetting(name: string): boolean {
  return (
    name.startsWith('WebPubSub') ||
    name.startsWith('PushApi') ||
    name.startsWith('Negotiate') ||
    name === 'AZURE_CLIENT_ID'
  );
}

export async function startPushHost(
  settings: Record<string, string>,
  options: { functionKey?: string } = {},
): Promise<PushHost> {
  const saved = new Map<string, string | undefined>();
  for (const name of Object.keys(process.env).filter(isAppSetting)) {
    saved.set(name, process.env[name]);
    Reflect.deleteProperty(process.env, name);
  }
  for (const [name, value] of Object.entries(settings)) {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  const logLines: string[] = [];
  const host = await startLocalHost({
    rootDir: ROOT,
    port: 0,
    entry: PUSH_ENTRY,
    applySettings: false,
    functionKey: options.functionKey,
    log: (line) => logLines.push(line),
  });
  return {
    host,
    logLines,
    url: (pathAndQuery) => `http://127.0.0.1:${host.port}/api${pathAndQuery}`,
    async close() {
      await host.close();
      for (const [name, value] of saved) {
        if (value === undefined) Reflect.deleteProperty(process.env, name);
        else process.env[name] = value;
      }
    },
  };
}
