import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The real Bicep compiler for `npm run check:infra` and test/infra, obtained without a Bicep installer (which
 * downloads from hosts some machines cannot reach): a `bicep` already on PATH is used as is; otherwise the CLI's
 * NuGet package (a self-contained `tools/bicep` binary) is restored once with the .NET SDK into a cache folder
 * outside the repository, and reused from there.
 */

/** The pinned compiler; change it here only, then run `npm run check:infra` (the cache keeps one folder per version). */
export const BICEP_VERSION = '0.49.2';

/** NuGet publishes one package per runtime, Azure.Bicep.CommandLine.<rid>, each holding tools/bicep[.exe]. */
export function bicepPackageId(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): string {
  const os =
    platform === 'win32' ? 'win' : platform === 'darwin' ? 'osx' : platform === 'linux' ? 'linux' : undefined;
  const cpu = arch === 'x64' ? 'x64' : arch === 'arm64' ? 'arm64' : undefined;
  if (os === undefined || cpu === undefined) {
    throw new NoCompilerError(`No Bicep CLI package is published for ${platform}/${arch}.`);
  }
  return `Azure.Bicep.CommandLine.${os}-${cpu}`;
}

export class NoCompilerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoCompilerError';
  }
}

export interface BicepCompiler {
  path: string;
  /** Where it came from: WEBPUBSUB_BICEP, PATH, the restore cache, or a restore just now. */
  source: 'env' | 'path' | 'cache' | 'restored';
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Defaults to `${TMPDIR:-/tmp}/webpubsub-functions-bicep`. */
  cacheDir?: string;
  log?: (line: string) => void;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TMPDIR ?? tmpdir(), 'webpubsub-functions-bicep');
}

const exe = (name: string) => (process.platform === 'win32' ? `${name}.exe` : name);

function isExecutable(path: string): boolean {
  try {
    accessSync(path, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, exe(name));
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Where the restored binary lives: NuGet's global-packages layout lowercases the id. */
export function cachedBinaryPath(cacheDir: string, packageId: string = bicepPackageId()): string {
  return join(cacheDir, 'packages', packageId.toLowerCase(), BICEP_VERSION, 'tools', exe('bicep'));
}

/** Environment for dotnet: no telemetry, no banner, no first-run work, nothing that waits for a person. */
export function dotnetEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    DOTNET_NOLOGO: '1',
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
    DOTNET_GENERATE_ASPNET_CERTIFICATE: 'false',
    NUGET_XMLDOC_MODE: 'skip',
  };
}

/**
 * A throwaway project whose only job is to download one package. Implicit framework references are off, so no
 * targeting pack is fetched, and the target framework is whatever the installed SDK targets natively.
 */
function restoreProject(packageId: string, targetFramework: string): string {
  return `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>${targetFramework}</TargetFramework>
    <DisableImplicitFrameworkReferences>true</DisableImplicitFrameworkReferences>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="${packageId}" Version="[${BICEP_VERSION}]" />
  </ItemGroup>
</Project>
`;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with no standard input (nothing may wait for a keyboard), collecting its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

async function restoreWithDotnet(
  dotnet: string,
  cacheDir: string,
  packageId: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<string> {
  const sdkEnv = dotnetEnv(env);
  const version = await runCommand(dotnet, ['--version'], { env: sdkEnv, timeoutMs: 60_000 });
  const major = /^(\d+)\./.exec(version.stdout.trim())?.[1];
  if (version.code !== 0 || major === undefined) {
    throw new NoCompilerError(
      `dotnet is on PATH (${dotnet}) but \`dotnet --version\` failed: ${(version.stderr || version.stdout).trim()}`,
    );
  }
  const projectDir = join(cacheDir, 'restore');
  mkdirSync(projectDir, { recursive: true });
  writeFileSync(join(projectDir, 'restore.csproj'), restoreProject(packageId, `net${major}.0`));
  const packagesDir = join(cacheDir, 'packages');
  log(`Restoring ${packageId} ${BICEP_VERSION} with dotnet ${version.stdout.trim()} into ${packagesDir} ...`);
  const started = Date.now();
  const restore = await runCommand(
    dotnet,
    ['restore', join(projectDir, 'restore.csproj'), '--packages', packagesDir, '--verbosity', 'quiet'],
    { env: sdkEnv, cwd: projectDir, timeoutMs: 300_000 },
  );
  const binary = cachedBinaryPath(cacheDir, packageId);
  if (restore.code !== 0 || !existsSync(binary)) {
    const output = `${restore.stdout}\n${restore.stderr}`.trim();
    throw new NoCompilerError(
      `dotnet restore of ${packageId} ${BICEP_VERSION} failed (exit ${restore.code ?? 'killed'}):\n${output}`,
    );
  }
  // NuGet does not keep file modes when it extracts a package.
  if (process.platform !== 'win32') chmodSync(binary, 0o755);
  log(`Restored ${binary} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return binary;
}

/**
 * Finds or fetches the compiler. Throws NoCompilerError, saying what was tried, when there is none to be had:
 * callers must fail, never skip, since an unchecked template is what this exists to prevent.
 */
export async function resolveBicep(options: ResolveOptions = {}): Promise<BicepCompiler> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const cacheDir = options.cacheDir ?? defaultCacheDir(env);

  const explicit = env.WEBPUBSUB_BICEP;
  if (explicit !== undefined && explicit !== '') {
    if (!isExecutable(explicit))
      throw new NoCompilerError(`WEBPUBSUB_BICEP=${explicit} is not an executable file.`);
    return { path: explicit, source: 'env' };
  }
  const fromPath = onPath('bicep', env);
  if (fromPath !== undefined) return { path: fromPath, source: 'path' };

  const packageId = bicepPackageId();
  const cached = cachedBinaryPath(cacheDir, packageId);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };

  const dotnet = onPath('dotnet', env);
  if (dotnet === undefined) {
    throw new NoCompilerError(
      `No Bicep compiler: no \`bicep\` on PATH, none cached at ${cached}, and no \`dotnet\` on PATH to restore ` +
        `the NuGet package ${packageId} ${BICEP_VERSION}. Install the .NET SDK (or put bicep on PATH) and run again.`,
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  return { path: await restoreWithDotnet(dotnet, cacheDir, packageId, env, log), source: 'restored' };
}

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  level: 'Error' | 'Warning' | 'Info';
  code: string;
  message: string;
}

/**
 * The CLI's default diagnostic format (src/Bicep.Cli/Logging/DiagnosticLogger.cs):
 * `<file URI>(line,col) : <Level> <code>: <message>[ [<rule URL>]]`. Files come back as paths.
 */
export function parseDiagnostics(output: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^(.*)\((\d+),(\d+)\)\s*:\s*(Error|Warning|Info)\s+([^\s:]+):\s*(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, file, row, column, level, code, message] = match as unknown as [
      string,
      string,
      string,
      string,
      Diagnostic['level'],
      string,
      string,
    ];
    const path = file.startsWith('file://') ? fileURLToPath(file) : file;
    diagnostics.push({ file: path, line: Number(row), column: Number(column), level, code, message });
  }
  return diagnostics;
}

export interface BuildResult {
  /** The compiled ARM template. */
  template: Record<string, unknown>;
  diagnostics: Diagnostic[];
}

/** `bicep build --stdout`: the template on stdout, diagnostics (of the file and its modules) on stderr. */
export async function buildTemplate(compiler: BicepCompiler, file: string): Promise<BuildResult> {
  const result = await runCommand(compiler.path, ['build', file, '--stdout'], { timeoutMs: 180_000 });
  const diagnostics = parseDiagnostics(result.stderr);
  if (result.code !== 0) {
    const errors = diagnostics.filter((d) => d.level === 'Error');
    const detail = errors.length > 0 ? errors.map(formatDiagnostic).join('\n') : result.stderr.trim();
    throw new Error(`bicep build ${file} failed (exit ${result.code ?? 'killed'}):\n${detail}`);
  }
  return { template: JSON.parse(result.stdout) as Record<string, unknown>, diagnostics };
}

/** `bicep lint`: linter rules and compiler diagnostics of one file, without writing anything. */
export async function lintFile(compiler: BicepCompiler, file: string): Promise<Diagnostic[]> {
  const result = await runCommand(compiler.path, ['lint', file], { timeoutMs: 180_000 });
  const diagnostics = parseDiagnostics(`${result.stdout}\n${result.stderr}`);
  if (result.code !== 0 && diagnostics.length === 0) {
    throw new Error(`bicep lint ${file} failed (exit ${result.code ?? 'killed'}):\n${result.stderr.trim()}`);
  }
  return diagnostics;
}

export async function compilerVersion(compiler: BicepCompiler): Promise<string> {
  const result = await runCommand(compiler.path, ['--version'], { timeoutMs: 60_000 });
  return result.stdout.trim() || result.stderr.trim();
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}`;
}
