/**
 * How `npm run check:infra` and the ARM-template tests obtain the Bicep compiler (dev/bicep-compiler.ts), with
 * stand-in `bicep` and `dotnet` executables on a private PATH: no network, no .NET needed.
 */
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BICEP_VERSION,
  bicepPackageId,
  NoCompilerError,
  parseDiagnostics,
  resolveBicep,
} from '../../dev/bicep-compiler';

const posix = process.platform === 'win32' ? it.skip : it;
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bicep-compiler-test-'));
  dirs.push(dir);
  return dir;
}

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the NuGet package of the Bicep CLI', () => {
  it('is the one published for this runtime, pinned to one version', () => {
    expect(bicepPackageId('linux', 'x64')).toBe('Azure.Bicep.CommandLine.linux-x64');
    expect(bicepPackageId('linux', 'arm64')).toBe('Azure.Bicep.CommandLine.linux-arm64');
    expect(bicepPackageId('darwin', 'arm64')).toBe('Azure.Bicep.CommandLine.osx-arm64');
    expect(bicepPackageId('win32', 'x64')).toBe('Azure.Bicep.CommandLine.win-x64');
    expect(() => bicepPackageId('aix', 'ppc64')).toThrow(NoCompilerError);
    expect(BICEP_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('diagnostics', () => {
  // The CLI's format, from src/Bicep.Cli/Logging/DiagnosticLogger.cs of Azure/bicep:
  // $"{file URI}({line + 1},{character + 1}) : {Level} {Code}: {Message}{ [code description URL]}"
  it('are read from the CLI output, file URIs as paths', () => {
    const output = [
      'file:///work/infra/main.bicep(12,7) : Warning no-unused-params: Parameter "x" is declared but never used. [https://aka.ms/bicep/linter/no-unused-params]',
      'Build succeeded with warnings.',
      'file:///work/infra/modules/storage.bicep(3,1) : Error BCP018: Expected the "=" character at this location.',
    ].join('\n');
    expect(parseDiagnostics(output)).toEqual([
      {
        file: '/work/infra/main.bicep',
        line: 12,
        column: 7,
        level: 'Warning',
        code: 'no-unused-params',
        message: 'Parameter "x" is declared but never used. [https://aka.ms/bicep/linter/no-unused-params]',
      },
      {
        file: '/work/infra/modules/storage.bicep',
        line: 3,
        column: 1,
        level: 'Error',
        code: 'BCP018',
        message: 'Expected the "=" character at this location.',
      },
    ]);
  });
});

describe('resolving the compiler', () => {
  posix('uses a bicep already on PATH as is', async () => {
    const bin = tempDir();
    const bicep = script(bin, 'bicep', 'echo fake');
    await expect(resolveBicep({ env: { PATH: bin }, cacheDir: tempDir() })).resolves.toEqual({
      path: bicep,
      source: 'path',
    });
  });

  posix('uses WEBPUBSUB_BICEP first, and refuses one that is not executable', async () => {
    const bin = tempDir();
    const bicep = script(bin, 'my-bicep', 'echo fake');
    await expect(
      resolveBicep({ env: { PATH: '', WEBPUBSUB_BICEP: bicep }, cacheDir: tempDir() }),
    ).resolves.toEqual({ path: bicep, source: 'env' });
    await expect(
      resolveBicep({ env: { PATH: '', WEBPUBSUB_BICEP: join(bin, 'missing') }, cacheDir: tempDir() }),
    ).rejects.toThrow(NoCompilerError);
  });

  posix('without bicep and without dotnet, fails saying what it needs', async () => {
    const promise = resolveBicep({ env: { PATH: tempDir() }, cacheDir: tempDir() });
    await expect(promise).rejects.toThrow(NoCompilerError);
    await expect(promise).rejects.toThrow(
      new RegExp(`no \`dotnet\` on PATH.*${bicepPackageId()} ${BICEP_VERSION.replace(/\./g, '\\.')}`),
    );
  });

  posix(
    'restores the pinned package with dotnet, no input and no telemetry, once; then uses the cache',
    async () => {
      const bin = tempDir();
      const cache = tempDir();
      const log = join(tempDir(), 'dotnet.log');
      // The NuGet global-packages layout: <id lowercased>/<version>/, the package's files below it.
      const binary = join(cache, 'packages', bicepPackageId().toLowerCase(), BICEP_VERSION, 'tools', 'bicep');
      // Shell built-ins and node only: PATH holds nothing but the stand-in.
      const touch = `"${process.execPath}" -e "const fs = require('fs'); fs.mkdirSync(require('path').dirname(process.argv[1]), { recursive: true }); fs.writeFileSync(process.argv[1], '#!/bin/sh')"`;
      script(
        bin,
        'dotnet',
        `echo "$*" >> "${log}"
if [ "$1" = "--version" ]; then echo 10.0.100; exit 0; fi
echo "telemetry=$DOTNET_CLI_TELEMETRY_OPTOUT nologo=$DOTNET_NOLOGO" >> "${log}"
if read -r line; then echo "stdin=data" >> "${log}"; else echo "stdin=eof" >> "${log}"; fi
while IFS= read -r line; do echo "$line"; done < "$2" >> "${log}"
${touch} "${binary}"`,
      );

      const first = await resolveBicep({ env: { PATH: bin }, cacheDir: cache });
      expect(first).toEqual({ path: binary, source: 'restored' });
      // NuGet does not keep the executable bit; the resolver restores it.
      expect(() => accessSync(binary, constants.X_OK)).not.toThrow();
      const text = readFileSync(log, 'utf8');
      expect(text).toContain(
        `restore ${join(cache, 'restore', 'restore.csproj')} --packages ${join(cache, 'packages')}`,
      );
      expect(text).toContain('telemetry=1 nologo=1');
      expect(text).toContain('stdin=eof');
      expect(text).toContain(
        `<PackageDownload Include="${bicepPackageId()}" Version="[${BICEP_VERSION}]" />`,
      );
      expect(text).toContain('<TargetFramework>net10.0</TargetFramework>');

      const again = await resolveBicep({ env: { PATH: bin }, cacheDir: cache });
      expect(again).toEqual({ path: binary, source: 'cache' });
      expect(readFileSync(log, 'utf8').match(/^restore /gm)).toHaveLength(1);
    },
  );

  posix('reports a failed restore with the output of dotnet', async () => {
    const bin = tempDir();
    script(
      bin,
      'dotnet',
      `if [ "$1" = "--version" ]; then echo 10.0.100; exit 0; fi
echo "error NU1101: Unable to find package ${bicepPackageId()}. No packages exist with this id in source(s): nuget.org"
exit 1`,
    );
    await expect(resolveBicep({ env: { PATH: bin }, cacheDir: tempDir() })).rejects.toThrow(/NU1101/);
  });
});
