// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

/** Layers of ../shared/ARCHITECTURE.md: each entry may not import the folders listed against it. */
const handlers = ['./src/events', './src/negotiate', './src/push'];
const aboveHandlers = [...handlers, './src/app', './src/functions'];
const layering = [
  // Nothing in src/ reaches into the local tooling; the deployed bundle is src/ alone.
  { target: './src', from: ['./dev', './emulator', './web', './bench', './test'] },
  // The protocol layer knows the wire and nothing else.
  {
    target: './src/protocol',
    from: [...aboveHandlers, './src/http', './src/identity', './src/service', './src/config.ts'],
  },
  // The shared HTTP shapes sit under every handler.
  { target: './src/http', from: [...aboveHandlers, './src/identity', './src/service'] },
  // Identity and service access are used by handlers, never the reverse.
  { target: ['./src/identity', './src/service'], from: aboveHandlers },
  // Handlers are host-agnostic and do not know the product's application code or the registrations.
  { target: handlers, from: ['./src/app', './src/functions'] },
  { target: './src/app', from: ['./src/functions'] },
  // The emulator shares the wire knowledge and nothing else of src/.
  { target: './emulator', from: './src', except: ['./protocol'] },
  // The demo page is a browser bundle: it talks to the app over HTTP and WebSocket only.
  { target: './web', from: ['./src', './emulator', './dev', './bench', './test'] },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'coverage/**',
      'node_modules/**',
      'test-results/**',
      'bench-results/**',
      'web/dist/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layering }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-empty-function': 'off',
      '@typescript-eslint/consistent-type-definitions': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // `x as T` after a check reads better than `x!`, which strict mode forbids anyway.
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
    },
  },
  {
    // Host-agnostic code never sees the Functions types; only src/functions adapts to them.
    files: ['src/**/*.ts'],
    ignores: ['src/functions/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '@azure/functions', message: 'Only src/functions may use the Functions types.' }] },
      ],
    },
  },
  {
    // config.ts is the only reader of settings.
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read settings through src/config.ts.' },
      ],
    },
  },
  {
    // The protocol layer: no I/O, no host, no clock (time is a parameter).
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            '@azure/functions',
            'ws',
            'http',
            'https',
            'net',
            'fs',
            'node:http',
            'node:https',
            'node:net',
            'node:fs',
          ].map((name) => ({ name, message: 'src/protocol is pure: no I/O and no host.' })),
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'src/protocol reads no settings.' },
        { object: 'Date', property: 'now', message: 'src/protocol takes time as a parameter.' },
        { object: 'performance', property: 'now', message: 'src/protocol takes time as a parameter.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'src/protocol takes time as a parameter.',
        },
      ],
    },
  },
  {
    // Tests may poke at internals and build deliberately odd values.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: {
        module: 'writable',
        require: 'readonly',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
  },
  prettier,
);
