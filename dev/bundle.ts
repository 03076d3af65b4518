import { build, type Metafile, type Plugin } from 'esbuild';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

// The sources are read from the repository, whether this runs compiled (dist/dev) or under jest (dev/).
const repoRoot = findRepoRoot(__dirname);

function findRepoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** The bundle's entry, which the deployed package.json names as `main`. */
export const BUNDLE_MAIN = 'main.js';

export interface BundleOptions {
  /** Where the bundle goes (emptied first); default dist/bundle. */
  outDir?: string;
  /** Minify (default true); off makes a readable bundle for debugging. */
  minify?: boolean;
}

export interface BundleResult {
  outDir: string;
  /** Absolute path of the entry file. */
  main: string;
  /** Output file (relative to outDir, `/`-separated) -> the node_modules packages it contains. */
  packagesByFile: Record<string, string[]>;
  /** Output file -> its size in bytes. */
  bytesByFile: Record<string, number>;
  /** What the bundle still loads from outside itself at run time (Node built-ins, the worker's module). */
  externalImports: string[];
}

/**
 * The deployable app: one CommonJS entry plus chunks that load on first use, built with esbuild from the
 * TypeScript sources in two passes.
 *
 * 1. ESM with code splitting: every `import()` in src (the handlers behind each registration, jose,
 *    @azure/identity, the service clients with @azure/web-pubsub) becomes a chunk, and modules used by several
 *    chunks are shared, not duplicated (two copies of ProblemError would break `instanceof`). esbuild splits
 *    only ESM.
 * 2. Each file of that output turned into CommonJS, `import()` into `require()`. Node's CommonJS loader
 *    reads and compiles a file synchronously, where its ES module loader resolves, reads and links every
 *    module asynchronously and must first be set up itself: on a cold key-mode negotiate the CommonJS form
 *    takes ~15% less time, and ~15% fewer instructions, than the same chunks as ES modules (BENCHMARKS.md).
 *    The Functions worker `require`s a CommonJS main.
 *
 * `@azure/functions-core` stays external: the worker answers it at run time (through Module.prototype.require,
 * which is where the worker and our local host hook that name).
 */
export async function buildBundle(options: BundleOptions = {}): Promise<BundleResult> {
  const outDir = resolve(options.outDir ?? join(repoRoot, 'dist', 'bundle'));
  const minify = options.minify ?? true;
  rmSync(outDir, { recursive: true, force: true });
  const esmDir = mkdtempSync(join(tmpdir(), 'wps-bundle-esm-'));
  try {
    // One import per registration file, the same set package.json's `main` glob names for the unbundled app.
    const functionsDir = join(repoRoot, 'src', 'functions');
    const registrations = readdirSync(functionsDir)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
      .sort();
    const split = await build({
      stdin: {
        contents: registrations.map((file) => `import './src/functions/${file.slice(0, -3)}';`).join('\n'),
        resolveDir: repoRoot,
        sourcefile: 'functions-entry.ts',
        loader: 'ts',
      },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      // Flex Consumption runs Node 20 or 22 (infra/); node20 syntax runs on both.
      target: 'node20',
      outdir: esmDir,
      entryNames: 'main',
      chunkNames: 'chunks/[name]-[hash]',
      external: ['@azure/functions-core'],
      minify,
      sourcemap: 'linked',
      // Kept in the code for the second pass, which writes them next to each file.
      legalComments: 'eof',
      tsconfig: join(repoRoot, 'tsconfig.json'),
      plugins: [azureFunctionsFromSource, lazyServerModules],
      metafile: true,
      logLevel: 'silent',
    });
    failOnWarnings('bundle (ESM pass)', split.warnings);
    const esmFiles = Object.keys(split.metafile.outputs)
      .filter((file) => file.endsWith('.js'))
      .map((file) => resolve(file));
    const commonJs = await build({
      entryPoints: esmFiles,
      outbase: esmDir,
      outdir: outDir,
      bundle: false,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      // `import('./chunks/x.js')` becomes `require()`: a dynamic import would bring the ES module loader back.
      supported: { 'dynamic-import': false },
      minify,
      sourcemap: 'linked',
      legalComments: 'linked',
      // `open` (reached only by @azure/identity's interactive browser login, which we never use) reads
      // `import.meta.url` and falls back to '' without it; nothing else in the bundle uses import.meta.
      logOverride: { 'empty-import-meta': 'silent' },
      metafile: true,
      logLevel: 'silent',
    });
    failOnWarnings('bundle (CommonJS pass)', commonJs.warnings);
    return {
      outDir,
      main: join(outDir, BUNDLE_MAIN),
      packagesByFile: packagesByFile(split.metafile, esmDir),
      bytesByFile: bytesByFile(commonJs.metafile, outDir),
      externalImports: [
        ...new Set(
          Object.values(split.metafile.outputs).flatMap((output) =>
            output.imports.filter((entry) => entry.external).map((entry) => entry.path),
          ),
        ),
      ].sort(),
    };
  } finally {
    rmSync(esmDir, { recursive: true, force: true });
  }
}

function failOnWarnings(
  pass: string,
  warnings: readonly { text: string; location: { file: string } | null }[],
): void {
  if (warnings.length === 0) return;
  const lines = warnings.map((warning) => `${warning.location?.file ?? ''}: ${warning.text}`);
  throw new Error(`${pass}: ${lines.join('\n')}`);
}

const functionsPackageDir = dirname(require.resolve('@azure/functions/package.json'));

/**
 * @azure/functions from the TypeScript sources its package ships, not from its webpack build: esbuild can then
 * leave out what we never call (every trigger type but HTTP, the MCP helpers), and a cold start evaluates a
 * third less of it. Its own dependency @azure/functions-extensions-base is taken as `require` resolves it: the
 * package's ES build has only a default export, which the sources' named imports cannot use.
 */
const azureFunctionsFromSource: Plugin = {
  name: 'azure-functions-from-source',
  setup(pluginBuild) {
    const sources = join(functionsPackageDir, 'src', 'index.ts');
    if (!existsSync(sources)) throw new Error(`@azure/functions no longer ships its sources (${sources})`);
    const requireFromFunctions = createRequire(join(functionsPackageDir, 'package.json'));
    pluginBuild.onResolve({ filter: /^@azure\/functions$/ }, () => ({ path: sources }));
    pluginBuild.onResolve({ filter: /^@azure\/functions-extensions-base$/ }, (args) => ({
      path: requireFromFunctions.resolve(args.path),
    }));
  },
};

/**
 * @azure/functions imports `http` and `net` at load but uses them only to set up HTTP streaming
 * (`app.setup({ enableHttpStream: true })`, which we do not use), through `createServer` alone. Handing it a
 * `createServer` that loads the module when called keeps Node's http stack out of the cold start (~7–10 ms of
 * compiling it on the benchmark machine). Should @azure/functions use anything else of them, the build fails
 * (a missing export is an error, or a warning that failOnWarnings turns into one).
 */
const lazyServerModules: Plugin = {
  name: 'lazy-server-modules-for-azure-functions',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^(node:)?(http|net)$/ }, (args) =>
      args.importer.startsWith(functionsPackageDir)
        ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-server-module' }
        : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: 'lazy-server-module' }, (args) => ({
      loader: 'js',
      contents: `export function createServer(...args) { return require('node:${args.path}').createServer(...args); }`,
    }));
  },
};

function packagesByFile(metafile: Metafile, outDir: string): Record<string, string[]> {
  const byFile: Record<string, string[]> = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!file.endsWith('.js')) continue;
    const packages = new Set<string>();
    for (const input of Object.keys(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      if (match?.[1] !== undefined) packages.add(match[1]);
    }
    byFile[outputName(file, outDir)] = [...packages].sort();
  }
  return byFile;
}

function bytesByFile(metafile: Metafile, outDir: string): Record<string, number> {
  const byFile: Record<string, number> = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.js')) byFile[outputName(file, outDir)] = output.bytes;
  }
  return byFile;
}

function outputName(file: string, outDir: string): string {
  return relative(outDir, resolve(file)).split('\\').join('/');
}

/** package.json for the deployed folder: the bundle carries every dependency, so `main` is all it needs. */
export function deployPackageJson(): string {
  const source = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return `${JSON.stringify({ name: source.name, version: source.version, private: true, main: BUNDLE_MAIN }, null, 2)}\n`;
}

/**
 * `npm run bundle [-- --out <dir>]`: the deployable folder — the bundle, its package.json and host.json.
 * infra/hooks/package.mjs stages `dist/deploy` this way for azd; that folder is all the platform needs.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
  const bundle = await buildBundle(values.out === undefined ? {} : { outDir: values.out });
  writeFileSync(join(bundle.outDir, 'package.json'), deployPackageJson());
  copyFileSync(join(repoRoot, 'host.json'), join(bundle.outDir, 'host.json'));
  for (const [file, packages] of Object.entries(bundle.packagesByFile)) {
    const bytes = bundle.bytesByFile[file];
    const size = bytes === undefined ? '' : ` ${(bytes / 1024).toFixed(1)} KiB`;
    console.log(`${file}${size}${packages.length > 0 ? `: ${packages.join(', ')}` : ''}`);
  }
  console.log(`bundle written to ${relative(process.cwd(), bundle.outDir) || '.'} (main: ${BUNDLE_MAIN})`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
