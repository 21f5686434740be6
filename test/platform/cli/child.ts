import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

// The CLI as the shell runs it, in a process of its own with real pipes: bundled from src/ (not dist/, which may be
// older than the code under test), with the library beside it for helper processes.

export interface Bundle {
  /** Runs `sluice ...args` with stdout and stderr piped to this process. */
  cli(args: readonly string[]): ChildProcessWithoutNullStreams;
  /** Runs `sluice ...args` with stdout on the file descriptor `fd`, stderr piped. */
  cliTo(fd: number, args: readonly string[]): ChildProcess;
  /** Runs `sluice ...args` with stdout closed (`>&-`), stderr piped. */
  cliClosed(args: readonly string[]): ChildProcess;
  /** Runs the ES module `source`, with `Queue` and `FileStore` in scope, and `args` as process.argv[1...]. */
  script(source: string, args: readonly string[]): ChildProcessWithoutNullStreams;
  remove(): void;
}

export async function bundle(): Promise<Bundle> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-bundle-'));
  await build({
    entryPoints: { cli: 'src/cli.ts', lib: 'src/fs.ts', index: 'src/index.ts' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
    // sluice's version where the CLI names it, as the build writes it in (see rollup.config.mjs).
    define: { __SLUICE_VERSION__: JSON.stringify((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version) },
  });
  const lib = `import { Outbox, Queue } from '${join(dir, 'index.mjs')}'; import { FileStore } from '${join(dir, 'lib.mjs')}';`;
  return {
    cli: (args) => spawn(process.execPath, [join(dir, 'cli.mjs'), ...args], { stdio: 'pipe' }),
    cliTo: (fd, args) => spawn(process.execPath, [join(dir, 'cli.mjs'), ...args], { stdio: ['ignore', fd, 'pipe'] }),
    cliClosed: (args) => spawn('/bin/sh', ['-c', 'exec "$0" "$@" >&-', process.execPath, join(dir, 'cli.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    script: (source, args) => spawn(process.execPath, ['--input-type=module', '-e', `${lib}\n${source}`, ...args], { stdio: 'pipe' }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What a finished child wrote and how it ended. */
export async function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const [code, signal] = (await new Promise((resolve) => child.on('close', (...end) => resolve(end)))) as [number | null, string | null];
  return { code, signal, stderr };
}

/**
 * The hooks of a file of CLI processes: the CLI bundled once for the file, a directory of its own for each test (named
 * `prefix`…, removed after it). `sluice` and `dir` are set once those hooks have run.
 */
export function cliSuite(prefix: string): { readonly sluice: Bundle; readonly dir: string } {
  const suite = {} as { sluice: Bundle; dir: string };
  beforeAll(async () => {
    suite.sluice = await bundle();
  });
  afterAll(() => suite.sluice.remove());
  beforeEach(() => {
    suite.dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => rmSync(suite.dir, { recursive: true, force: true }));
  return suite;
}
