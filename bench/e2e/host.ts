import { join } from 'node:path';
import { startLocalHost } from '../../dev/host/server';
import { answerCpuQueries, BENCH_KEY } from '../emulator/shared';
import { repoRoot } from '../lib/paths';
import { E2E_FUNCTION_KEY, E2E_HUB, EMULATOR_PORT_VARIABLE } from './shared';

// The app's compiled registrations served by the local host (the real push handler, function key enforced)
// in its own process, its service being the emulator whose port the driver passes in the environment.
async function main(): Promise<void> {
  process.env.WebPubSubConnectionString = `Endpoint=http://127.0.0.1:${process.env[EMULATOR_PORT_VARIABLE]};AccessKey=${BENCH_KEY};Version=1.0;`;
  process.env.WebPubSubHub = E2E_HUB;
  const host = await startLocalHost({
    rootDir: repoRoot,
    port: 0,
    entry: [join(repoRoot, 'dist', 'src', 'functions', '*.js')],
    applySettings: false,
    functionKey: E2E_FUNCTION_KEY,
    log: () => undefined,
  });
  process.stdout.write(`${JSON.stringify({ port: host.port })}\n`);
  answerCpuQueries();
  const stop = (): void => {
    void host.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
}

void main();
