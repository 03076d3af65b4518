import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CPU_USAGE_QUERY } from './ipc';
import { serversDir } from './paths';

export interface ChildServer {
  name: string;
  port: number;
  url: string;
  pid: number;
  /** User + system CPU time the server process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Extra node flags, e.g. --cpu-prof for the server being profiled. */
  nodeArgs?: readonly string[];
  startTimeoutMs?: number;
  /** The compiled server script, when it is not dist/bench/servers/<name>.js (a benchmark's own servers). */
  script?: string;
  /** A command that runs node for us, e.g. valgrind with its options (bench/instructions). */
  launcher?: readonly string[];
}

const running = new Set<ChildProcess>();

// A benchmark that throws must not leave servers holding ports and CPU behind it.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Runs dist/bench/servers/<name>.js in its own process, so a server's garbage collector and event loop
 * never share a thread with the load generator. The child prints `{"port":n}` as its first stdout line.
 */
export async function startChildServer(name: string, options: StartOptions = {}): Promise<ChildServer> {
  const script = options.script ?? join(serversDir, `${name}.js`);
  const [command, ...launcherArgs] = [...(options.launcher ?? []), process.execPath];
  const child = spawn(command, [...launcherArgs, ...(options.nodeArgs ?? []), script], {
    // The IPC channel carries only CPU-usage queries between runs, never anything on the request path.
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));

  let port: number;
  try {
    port = await readPort(child, name, options.startTimeoutMs ?? 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const pid = child.pid as number;
  return {
    name,
    port,
    pid,
    url: `http://127.0.0.1:${port}`,
    cpuMicros: () => queryCpu(child, name),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      // SIGTERM lets the child exit normally, which is when --cpu-prof writes its profile.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** CPU time per request is steadier than requests/s on a shared machine: a descheduled server uses none. */
async function queryCpu(child: ChildProcess, name: string): Promise<number> {
  const answer = once(child, 'message') as Promise<[unknown]>;
  child.send(CPU_USAGE_QUERY);
  const [usage] = await answer;
  if (!isCpuUsage(usage))
    throw new Error(`server ${name} answered the CPU query with ${JSON.stringify(usage)}`);
  return usage.user + usage.system;
}

function isCpuUsage(value: unknown): value is NodeJS.CpuUsage {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<NodeJS.CpuUsage>).user === 'number' &&
    typeof (value as Partial<NodeJS.CpuUsage>).system === 'number'
  );
}

async function readPort(child: ChildProcess, name: string, timeoutMs: number): Promise<number> {
  const stdout = child.stdout;
  if (stdout === null) throw new Error(`server ${name}: no stdout`);
  const lines = createInterface({ input: stdout });
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`server ${name} did not print its port within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server ${name} exited before listening (code ${code}, signal ${signal})`));
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          const parsed = JSON.parse(line) as { port?: unknown };
          if (typeof parsed.port !== 'number') throw new Error('no numeric port');
          resolve(parsed.port);
        } catch (error) {
          reject(
            new Error(`server ${name} printed ${JSON.stringify(line)} instead of {"port":n}`, {
              cause: error,
            }),
          );
        }
      });
    });
  } finally {
    lines.close();
    // Later output is not ours to parse, but an unread pipe would eventually block the child.
    stdout.resume();
  }
}
