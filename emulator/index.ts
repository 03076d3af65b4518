/**
 * A local, Node-only stand-in for Azure Web PubSub (dev and test): `createEmulator(options)` for tests
 * and tools, `npm run emulator` for people.
 */
export { createEmulator, type Emulator } from './server';
export {
  DEFAULT_ACCESS_KEY,
  DEFAULT_PORT,
  EmulatorConfigError,
  type EmulatorLimits,
  type EmulatorOptions,
  type EventHandlerOptions,
  type HubOptions,
} from './config';
