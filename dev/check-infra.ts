import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import {
  buildTemplate,
  compilerVersion,
  formatDiagnostic,
  lintFile,
  NoCompilerError,
  resolveBicep,
  type Diagnostic,
} from './bicep-compiler';

/**
 * `npm run check:infra`: compiles infra/ with the real Bicep compiler, fails on any error or linter warning, then
 * runs the tests over the compiled ARM template (test/infra) with the same compiler.
 *
 * Exit codes: 0 clean; 1 a diagnostic or a failing test; 3 no compiler could be had (the message says why), which
 * .ci/run alone may answer with `--syntax-only`, a tree-sitter parse that it announces as a weaker check.
 */
export const EXIT_NO_COMPILER = 3;

const rootDir = resolve(__dirname, '..', '..');
const infraDir = join(rootDir, 'infra');

export function bicepFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...bicepFiles(path));
    else if (entry.name.endsWith('.bicep')) files.push(path);
  }
  return files.sort();
}

/** The file and the local modules it declares (`module x 'path.bicep'`), transitively. */
export function modulesReachedFrom(file: string, reached = new Set<string>()): Set<string> {
  if (reached.has(file)) return reached;
  reached.add(file);
  for (const match of readFileSync(file, 'utf8').matchAll(/^\s*module\s+\w+\s+'([^':]+\.bicep)'/gm)) {
    modulesReachedFrom(resolve(dirname(file), match[1] as string), reached);
  }
  return reached;
}

async function check(): Promise<number> {
  let compiler;
  try {
    compiler = await resolveBicep({ log: (line) => console.log(line) });
  } catch (error) {
    if (error instanceof NoCompilerError) {
      console.error(`check:infra cannot run: ${error.message}`);
      return EXIT_NO_COMPILER;
    }
    throw error;
  }
  console.log(`${await compilerVersion(compiler)} (${compiler.source}: ${compiler.path})`);

  const files = bicepFiles(infraDir);
  const seen = new Set<string>();
  const problems: Diagnostic[] = [];
  const collect = (diagnostics: Diagnostic[]) => {
    for (const d of diagnostics) {
      const key = formatDiagnostic(d);
      if (d.level === 'Info' || seen.has(key)) continue;
      seen.add(key);
      problems.push(d);
    }
  };
  // One build reports the diagnostics of main.bicep and every module it reaches; a file it does not reach is
  // linted on its own, so nothing under infra/ goes unchecked.
  const main = join(infraDir, 'main.bicep');
  collect((await buildTemplate(compiler, main)).diagnostics);
  const reached = modulesReachedFrom(main);
  for (const file of files.filter((f) => !reached.has(f))) collect(await lintFile(compiler, file));

  if (problems.length > 0) {
    for (const d of problems) console.error(formatDiagnostic({ ...d, file: relative(rootDir, d.file) }));
    console.error(`check:infra: ${problems.length} diagnostic(s); warnings count as failures.`);
    return 1;
  }
  console.log(`check:infra: ${files.length} Bicep files compile with no error and no linter warning.`);

  // The ARM-template tests need the compiler, so `npm test` leaves them out (jest.config.js) and they run here.
  const jest = spawnSync(
    process.execPath,
    [
      require.resolve('jest/bin/jest'),
      '--ci',
      '--testPathIgnorePatterns',
      '/node_modules/',
      '--',
      'test/infra',
    ],
    { cwd: rootDir, stdio: 'inherit', env: { ...process.env, WEBPUBSUB_BICEP: compiler.path } },
  );
  return jest.status ?? 1;
}

interface SyntaxNode {
  type: string;
  isMissing: boolean;
  startIndex: number;
  endIndex: number;
  startPosition: { row: number; column: number };
  children: SyntaxNode[];
}

interface TreeSitterParser {
  setLanguage(language: unknown): void;
  parse(source: string): { rootNode: SyntaxNode & { hasError: boolean } };
}

/** The fallback: every .bicep file parses (tree-sitter-bicep, installed by .ci/run outside the repository). */
function syntaxOnly(treeSitterDir: string | undefined): number {
  if (treeSitterDir === undefined) {
    console.error(
      'usage: check-infra --syntax-only <folder whose node_modules hold tree-sitter and tree-sitter-bicep>',
    );
    return 2;
  }
  const load = createRequire(join(resolve(treeSitterDir), 'package.json'));
  const Parser = load('tree-sitter') as new () => TreeSitterParser;
  const parser = new Parser();
  parser.setLanguage(load('tree-sitter-bicep'));

  let failures = 0;
  const files = bicepFiles(infraDir);
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    const problems: string[] = [];
    const walk = (node: SyntaxNode) => {
      if (node.type === 'ERROR' || node.isMissing) {
        const where = `${relative(rootDir, file)}(${node.startPosition.row + 1},${node.startPosition.column + 1})`;
        const text = JSON.stringify(
          source.slice(node.startIndex, Math.min(node.endIndex, node.startIndex + 40)),
        );
        problems.push(`${where} : ${node.isMissing ? `missing ${node.type}` : `syntax error at ${text}`}`);
      }
      node.children.forEach(walk);
    };
    walk(parser.parse(source).rootNode);
    failures += problems.length;
    problems.forEach((line) => console.error(line));
  }
  if (failures > 0) return 1;
  console.warn(
    `WARNING: ${files.length} Bicep files parse (tree-sitter-bicep), but this is a syntax check only: ` +
      'no types, no resource schemas, no linter, and the ARM-template tests did not run.',
  );
  return 0;
}

if (require.main === module) {
  const [mode, argument] = process.argv.slice(2);
  const run = mode === '--syntax-only' ? Promise.resolve(syntaxOnly(argument)) : check();
  run.then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
