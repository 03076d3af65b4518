// azd prepackage hook (azure.yaml): stages the deployable package in dist/deploy, the service's `dist`.
//
// The package is the esbuild bundle (dev/bundle.ts, `npm run bundle`): main.js (CommonJS) with the function
// registrations and @azure/functions, plus chunks that load on first use (each handler, jose, @azure/identity,
// @azure/web-pubsub), host.json, and a package.json whose `main` is the bundle. Every dependency is inside the
// bundle except @azure/functions-core, which the Functions worker supplies, so no node_modules is shipped and
// nothing is installed here: the lock file already decided every version that went into the bundle, and a
// cold start reads a few hundred KB instead of resolving a node_modules tree.
// azd has already run `npm install` (its restore step) before this hook.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stage = join(root, 'dist', 'deploy');

function run(command, args, cwd) {
  console.log(`> ${command} ${args.join(' ')}   (in ${relative(root, cwd) || '.'})`);
  const result = spawnSync(command, args, {
    cwd,
    stdio: ['ignore', 'inherit', 'inherit'],
    // npm is npm.cmd on Windows, which only a shell runs.
    shell: process.platform === 'win32',
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

function filesUnder(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((entry) => filesUnder(join(path, entry)));
}

// `npm run bundle` compiles dev/bundle.ts and builds the bundle into the (emptied) stage.
run('npm', ['run', 'bundle', '--', '--out', stage], root);

// Source maps stay behind, as .funcignore has them: the package carries only what runs (and the licences).
for (const file of filesUnder(stage)) if (file.endsWith('.map')) rmSync(file);

const { main } = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8'));
if (typeof main !== 'string' || !existsSync(join(stage, main)) || !existsSync(join(stage, 'host.json'))) {
  console.error('The staged package lacks its bundle or host.json; refusing to deploy it.');
  process.exit(1);
}
const files = filesUnder(stage);
const megabytes = (files.reduce((total, file) => total + statSync(file).size, 0) / 1024 / 1024).toFixed(2);
console.log(
  `Staged ${relative(root, stage)} (${files.length} files, ${megabytes} MB, main: ${main}) for deployment.`,
);
