/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Tests over the compiled ARM template need the Bicep compiler (.NET, restored from NuGet): `npm run check:infra`
  // runs them; `npm test` stays Node alone.
  // The demo page's tests drive Chromium: `npm run test:browser` (jest.browser.config.js) runs them.
  testPathIgnorePatterns: ['/node_modules/', '\\.arm\\.test\\.ts$', '<rootDir>/test/browser/'],
  // Type checking is its own step (npm run typecheck); swc only strips types, which keeps the suite fast.
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // jose ships ESM only; let swc turn it into CommonJS for jest's module system.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // The real Functions worker supplies this module; the local host supplies ours (see dev/host/core-api.ts).
  moduleNameMapper: {
    '^@azure/functions-core$': '<rootDir>/dev/host/core-api.ts',
    // Lazy `import('./x.js')` in src names the compiled file, as Node's ESM resolution needs; here it is x.ts.
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 20000,
};
