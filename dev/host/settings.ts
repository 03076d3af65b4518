import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HostJson {
  routePrefix: string;
}

/** `extensions.http.routePrefix` from host.json, `api` when unset (the Functions default). */
export function readHostJson(rootDir: string): HostJson {
  const path = join(rootDir, 'host.json');
  if (!existsSync(path)) return { routePrefix: 'api' };
  const json = JSON.parse(readFileSync(path, 'utf8')) as {
    extensions?: { http?: { routePrefix?: unknown } };
  };
  const prefix = json.extensions?.http?.routePrefix;
  if (prefix !== undefined && typeof prefix !== 'string')
    throw new Error('host.json: routePrefix must be a string');
  return { routePrefix: (prefix ?? 'api').replace(/^\/+|\/+$/g, '') };
}

/**
 * `Values` of local.settings.json, as Core Tools applies them: into the environment, where a variable that
 * is already set wins, so one command can point the host elsewhere without editing the file.
 * Returns the names it applied (never their values: some are secrets).
 */
export function applyLocalSettings(
  rootDir: string,
  env: NodeJS.ProcessEnv = process.env,
  fileName = 'local.settings.json',
): string[] {
  const path = join(rootDir, fileName);
  if (!existsSync(path)) return [];
  let json: { Values?: Record<string, unknown> };
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, unknown> };
  } catch (error) {
    throw new Error(`${fileName} is not valid JSON: ${(error as Error).message}`);
  }
  const applied: string[] = [];
  for (const [name, value] of Object.entries(json.Values ?? {})) {
    if (typeof value !== 'string') throw new Error(`${fileName}: Values.${name} must be a string`);
    if (env[name] === undefined) {
      env[name] = value;
      applied.push(name);
    }
  }
  return applied;
}
