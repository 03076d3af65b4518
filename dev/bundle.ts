import { build, type Metafile, type Plugin } from 'esbuild';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
export const BUNDLE_MAIN = 'main.mjs';

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
  /** Output file (relative to outDir) -> the node_modules packages it contains. */
  packagesByFile: Record<string, string[]>;
  metafile: Metafile;
}

/**
 * The deployable app as one ES module plus chunks, built with esbuild from the TypeScript sources.
 *
 * ESM with code splitting rather than one CommonJS file: every `import()` in src (the handlers behind each
 * registration, jose, @azure/identity, the service clients with @azure/web-pubsub) becomes a chunk that is
 * read only when that code first runs, while modules used by several chunks are shared, not duplicated (two
 * copies of ProblemError would break `instanceof`). esbuild splits only ESM output; the Functions Node worker
 * loads an `.mjs` main with `import()`, and Node 20.19+ can `require()` it (our local host does).
 *
 * `@azure/functions-core` stays external: the worker answers it at run time. The bundled CommonJS packages
 * call `require` for it and for Node's built-ins, so the banner gives the module a real `require` (through
 * Module.prototype.require, which is where the worker and our local host hook that name).
 */
export async function buildBundle(options: BundleOptions = {}): Promise<BundleResult> {
  const outDir = resolve(options.outDir ?? join(repoRoot, 'dist', 'bundle'));
  rmSync(outDir, { recursive: true, force: true });
  // One import per registration file, the same set package.json's `main` glob names for the unbundled app.
  const functionsDir = join(repoRoot, 'src', 'functions');
  const registrations = readdirSync(functionsDir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .sort();
  const result = await build({
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
    outdir: outDir,
    entryNames: 'main',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    external: ['@azure/functions-core'],
    minify: options.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'linked',
    tsconfig: join(repoRoot, 'tsconfig.json'),
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    plugins: [lazyBuiltins],
    metafile: true,
    logLevel: 'warning',
  });
  return {
    outDir,
    main: join(outDir, BUNDLE_MAIN),
    packagesByFile: packagesByFile(result.metafile, outDir),
    metafile: result.metafile,
  };
}

/**
 * @azure/functions requires `http` and `net` at load but uses them only to set up HTTP streaming
 * (`app.setup({ enableHttpStream: true })`, which we do not use): `http.createServer` and `net.createServer`,
 * called inside functions. Handing it a proxy that loads the module on first property access keeps both
 * out of the cold start (~7–10 ms of compiling Node's http stack on the benchmark machine; the worker process
 * may have loaded them already, in which case this costs nothing either way).
 */
const lazyBuiltins: Plugin = {
  name: 'lazy-builtins-for-azure-functions',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^(http|net)$/ }, (args) =>
      /[\\/]node_modules[\\/]@azure[\\/]functions[\\/]/.test(args.importer)
        ? { path: args.path, namespace: 'lazy-builtin' }
        : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      loader: 'js',
      contents: `let real;
module.exports = new Proxy({}, {
  get(_target, key) {
    real ??= require('node:${args.path}');
    return real[key];
  },
});`,
    }));
  },
};

function packagesByFile(metafile: Metafile, outDir: string): Record<string, string[]> {
  const byFile: Record<string, string[]> = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!file.endsWith('.mjs')) continue;
    const packages = new Set<string>();
    for (const input of Object.keys(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      if (match?.[1] !== undefined) packages.add(match[1]);
    }
    byFile[relative(outDir, resolve(file)).split('\\').join('/')] = [...packages].sort();
  }
  return byFile;
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
    const output = Object.entries(bundle.metafile.outputs).find(
      ([path]) => resolve(path) === join(bundle.outDir, file),
    );
    const size = output === undefined ? '' : ` ${(output[1].bytes / 1024).toFixed(1)} KiB`;
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
