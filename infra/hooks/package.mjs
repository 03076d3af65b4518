// azd prepackage hook (azure.yaml): stages the deployable bundle in dist/deploy, the service's `dist`.
//
// The bundle is what .funcignore keeps: the compiled app (dist/src), host.json, package.json and the production
// dependencies. They are installed with `npm ci --omit=dev` in the staging folder rather than pruned in the working
// tree, so a deployment never disturbs the developer's node_modules; the lock file still decides every version.
// azd has already run `npm install` (its restore step) before this hook.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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

function sizeOf(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.size;
  return readdirSync(path).reduce((total, entry) => total + sizeOf(join(path, entry)), 0);
}

run('npm', ['run', 'build'], root);

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
// Source maps stay behind, as .funcignore has them: the bundle carries only what runs.
cpSync(join(root, 'dist', 'src'), join(stage, 'dist', 'src'), {
  recursive: true,
  filter: (source) => !source.endsWith('.map'),
});
for (const file of ['host.json', 'package.json', 'package-lock.json']) {
  cpSync(join(root, file), join(stage, file));
}
// Optional dependencies (Azure Functions Core Tools) are for local development; install scripts are not needed
// by any production dependency.
run('npm', ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund'], stage);

if (!existsSync(join(stage, 'node_modules', '@azure', 'functions'))) {
  console.error('The staged bundle lacks @azure/functions; refusing to deploy it.');
  process.exit(1);
}
const megabytes = (sizeOf(stage) / 1024 / 1024).toFixed(1);
console.log(`Staged ${relative(root, stage)} (${megabytes} MB) for deployment.`);
