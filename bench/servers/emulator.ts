import { createEmulator } from '../../emulator';
import { answerCpuQueries, BENCH_KEY } from '../emulator/shared';

// The emulator as `npm run emulator` runs it, in its own process: clients connect to /client/hubs/{hub},
// the driver broadcasts with REST sendToAll.
async function main(): Promise<void> {
  const emulator = await createEmulator({ port: 0, host: '127.0.0.1', accessKey: BENCH_KEY });
  process.stdout.write(`${JSON.stringify({ port: emulator.port })}\n`);
  answerCpuQueries();
  const stop = (): void => {
    void emulator.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
}

void main();
