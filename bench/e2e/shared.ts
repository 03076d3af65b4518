/** The end-to-end benchmark's fixed facts, shared by the driver and its child processes. */
export const E2E_HUB = 'e2e';
export const E2E_FUNCTION_KEY = 'bench-function-key-0123456789';
/** The host child reads the emulator's port from this variable (set by the driver before it spawns). */
export const EMULATOR_PORT_VARIABLE = 'BENCH_E2E_EMULATOR_PORT';

/** A 1 KiB text message whose number leads it, so a client knows which message it has. */
export function message(number: number): string {
  const head = `${number}|`;
  return head + 'x'.repeat(1024 - head.length);
}

/** Parent -> client process. */
export interface OpenClients {
  type: 'open';
  url: string;
  count: number;
}

/** Client process -> parent. */
export type ClientReport =
  { type: 'ready' } | { type: 'done'; message: number; at: string } | { type: 'error'; message: string };
