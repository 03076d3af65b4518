// `npm run test:browser`: the demo page in headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH)
// against the local stack. Kept out of `npm test`, which needs Node alone.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/browser'],
  testPathIgnorePatterns: ['/node_modules/'],
  // One browser, two cores shared with the stack: run the files one after another.
  maxWorkers: 1,
  testTimeout: 60000,
};
