import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Platform } from 'esbuild';
import { publint } from 'publint';
import type ts from 'typescript';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAndInstall, repo, type Packed } from './pack.js';
import { setups, withoutDisposable } from './setups.js';
import { typecheck, valueExports } from './typecheck.js';

const run = promisify(execFile);

/** Runs a command, resolving its exit code and output instead of rejecting on a non-zero exit. */
async function exec(file: string, args: readonly string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(file, [...args], { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : 1, output: `${stdout ?? ''}${stderr ?? ''}${String(error)}` };
  }
}

/**
 * What the pack and install, and each concurrent check, may take on a busy machine: a check's time runs from when they
 * all start, through the others' work in this thread (publint, bundles, type checks), so each is given the time of
 * them all. Beside two CPU hogs, four checks ran past 30 s that way, and the pack and install past 120 s in a suite
 * run beside other work; none hung. Only a hang should fail them by time.
 */
const BUSY_MACHINE_MS = 600_000;

// One tarball for every check: packed and installed once.
let packed: Packed;
beforeAll(async () => {
  packed = await packAndInstall();
}, BUSY_MACHINE_MS);
afterAll(() => packed?.remove());

// Concurrent: the checks that run other processes (attw, node, tar) overlap with the type checks done in this one.
describe.concurrent('the packed package', { timeout: BUSY_MACHINE_MS }, () => {
  it('holds dist (code, maps, types), README, LICENSE and package.json; npm pack builds it first', async () => {
    const { stdout } = await run('tar', ['-tzf', packed.tarball]);
    const files = stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files.filter((f) => !f.startsWith('dist/')).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    for (const entry of ['index', 'index.browser', 'index.node', 'fs', 'indexeddb', 'sw']) {
      expect(files).toContain(`dist/${entry}.js`);
    }
    for (const entry of ['index', 'index.browser', 'indexeddb', 'sw']) {
      expect(files).toContain(`dist/prod/${entry}.js`);
    }
    expect(files).toContain('dist/cli.js');
    expect(files.filter((f) => f.endsWith('.d.ts')).length).toBeGreaterThanOrEqual(5);
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepack).toBe('npm run build');
    // Nothing an earlier build left: every module and declaration chunk is an entry or imported by another file.
    const root = join(packed.project, 'node_modules/sluice');
    const code = files.filter((f) => /^dist\/.*\.(js|d\.ts)$/.test(f));
    const texts = new Map(code.map((f) => [f, readFileSync(join(root, f), 'utf8')]));
    const entries = new Set(readFileSync(join(root, 'package.json'), 'utf8').match(/\.\/dist\/[^"]+/g)!.map((f) => f.slice(2)));
    const orphans = code.filter((f) => !entries.has(f.replace(/\.d\.ts$/, '.js')) && ![...texts].some(([other, text]) => other !== f && text.includes(`/${f.split('/').pop()!.replace(/\.d\.ts$/, '.js')}'`)));
    expect(orphans).toEqual([]);
  });

  it('passes publint, suggestions included', async () => {
    const tarball = readFileSync(packed.tarball);
    const { messages, pkg } = await publint({ pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) }, strict: true });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });

  it('passes attw in every resolution mode (ignoring only cjs-resolves-to-esm, see .attw.json)', async () => {
    const attw = join(repo, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    const { code, output } = await exec(process.execPath, [attw, packed.tarball, '--format', 'table-flipped', '--no-color'], repo);
    expect(code, output).toBe(0);
  });

  it('imports every entry in Node, and its bin runs', async () => {
    const data = mkdtempSync(join(packed.project, 'data-'));
    const { stdout } = await run(process.execPath, ['imports.mjs', data], { cwd: packed.project });
    const seen = JSON.parse(stdout) as Record<string, string[]>;
    expect(seen['sluice']).toEqual(expect.arrayContaining(['MemoryStore', 'Outbox', 'Queue', 'SluiceError', 'jsonCodec']));
    expect(seen['sluice/fs']).toEqual(['FileStore']);
    expect(seen['sluice/indexeddb']).toEqual(['IndexedDbStore']);
    expect(seen['sluice/sw']).toEqual(['backgroundSync']);
    expect(seen['sluice/redis']).toEqual(['RedisStore']);
    expect(seen['taken']).toEqual([{ n: 1 }]);
    const bin = join(packed.project, 'node_modules/.bin/sluice');
    const ls = await exec(bin, ['ls', '--dir', data, '--json'], packed.project);
    expect(ls.code, ls.output).toBe(0);
    expect(JSON.parse(ls.output)).toMatchObject({ queue: 'jobs', kind: 'queue', size: 1 });
    // The version the build wrote in: the package's own, whatever the path the bin runs from.
    const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
    const told = await exec(bin, ['--version'], packed.project);
    expect(told, told.output).toEqual({ code: 0, output: `${version}\n` });
  });

  // Before, `DeadLetters` and `QueueBlobs` (classes exported as types) were values in the bundled declarations:
  // `import { DeadLetters } from 'sluice'` type-checked, then failed to load.
  it('declares as values exactly what each entry exports at run time, under every condition', async () => {
    const root = join(packed.project, 'node_modules/sluice');
    const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const targets = (conditions: unknown): string[] =>
      typeof conditions === 'string' ? [conditions] : Object.values(conditions as Record<string, unknown>).flatMap(targets);
    for (const [entry, conditions] of Object.entries(exports)) {
      if (entry === './package.json') continue;
      const types = (conditions as { types: string }).types;
      const declared = valueExports(join(root, types));
      for (const file of new Set(targets(conditions).filter((f) => f.endsWith('.js')))) {
        const loaded = Object.keys((await import(pathToFileURL(join(root, file)).href)) as object).sort();
        expect({ entry, file, names: loaded }).toEqual({ entry, file, names: declared });
      }
    }
  });

  // Before, `import 'sluice/redis'` failed with Node's ERR_MODULE_NOT_FOUND where the optional peer was not installed.
  it('sluice/redis without ioredis installed: imports, and a store with a url rejects ERR_STORAGE saying what to install', async () => {
    const project = join(dirname(packed.project), 'no-ioredis');
    cpSync(join(packed.project, 'node_modules/sluice'), join(project, 'node_modules/sluice'), { recursive: true });
    const script = `import { RedisStore } from 'sluice/redis';
      const store = new RedisStore({ url: 'redis://127.0.0.1:1' });
      await store.open('q').then(() => console.log('opened'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ code: 'ERR_STORAGE', message: expect.stringContaining('npm install ioredis') });
  });

  it('bundles for a browser with the browser condition (and sluice/fs for Node)', async () => {
    const bundle = async (specifier: string, platform: Platform) => {
      const result = await build({
        stdin: { contents: `export * from '${specifier}';`, resolveDir: packed.project, sourcefile: 'entry.js' },
        bundle: true,
        platform,
        format: 'esm',
        write: false,
        metafile: true,
        logLevel: 'silent',
        absWorkingDir: packed.project,
      });
      return { inputs: Object.keys(result.metafile.inputs), code: result.outputFiles[0]!.text };
    };
    const main = await bundle('sluice', 'browser');
    expect(main.inputs).toContain('node_modules/sluice/dist/prod/index.browser.js');
    expect(main.inputs.some((file) => file.includes('/stores/fs/'))).toBe(false);
    for (const specifier of ['sluice', 'sluice/indexeddb', 'sluice/sw']) {
      const { inputs, code } = await bundle(specifier, 'browser');
      expect(code, specifier).not.toMatch(/["']node:/);
      // IndexedDbStore is built on idb, a dependency: bundles that hold the store hold idb too, resolved by the app.
      const store = inputs.includes('node_modules/sluice/dist/prod/stores/indexeddb/indexeddb-store.js');
      if (specifier !== 'sluice/sw') expect(store, specifier).toBe(true);
      expect(inputs.some((file) => file.includes('node_modules/idb/')), specifier).toBe(store);
    }
    const fs = await bundle('sluice/fs', 'node');
    expect(fs.inputs).toContain('node_modules/sluice/dist/fs.js');
  });

  it('gives browsers short messages, and the full ones under the development condition and in Node', async () => {
    const thrown = async (conditions: string[] | undefined, platform: Platform) => {
      const result = await build({
        stdin: { contents: `import { Queue } from 'sluice'; await Queue.open({ name: 'q', leaseMs: -1 });`, resolveDir: packed.project, sourcefile: 'entry.js' },
        bundle: true,
        platform,
        format: 'esm',
        write: false,
        logLevel: 'silent',
        absWorkingDir: packed.project,
        ...(conditions ? { conditions } : {}),
        // A bundle for the browser, run here: only its import of idb is left to Node.
        external: ['idb'],
      });
      const file = join(mkdtempSync(join(packed.project, 'bundle-')), 'entry.mjs');
      writeFileSync(file, result.outputFiles[0]!.text);
      const error = await import(file).then(() => undefined, (e: unknown) => e as { code: string; message: string });
      return { code: error?.code, message: error?.message };
    };
    expect(await thrown(undefined, 'browser')).toEqual({ code: 'ERR_INVALID_OPTION', message: 'ERR_INVALID_OPTION: invalid option `leaseMs`' });
    const full = { code: 'ERR_INVALID_OPTION', message: 'Expected `leaseMs` to be a duration from 1 ms to a hundred years (3.1536e12 ms), got -1.' };
    expect(await thrown(['development'], 'browser')).toEqual(full);
    expect(await thrown(undefined, 'node')).toEqual(full);
  });
});

describe.concurrent('the packed types compile, every listener typed, in the set-up of', { timeout: BUSY_MACHINE_MS }, () => {
  // Programs share parsed files: TypeScript's libs and @types/node are parsed once for all set-ups.
  const cache = new Map<string, ts.SourceFile>();
  for (const setup of setups) {
    it(setup.name, () => {
      expect(typecheck(packed.project, setup, cache)).toEqual([]);
    });
  }

  it('a browser without esnext.disposable, where Symbol.asyncDispose is missing (as the README says)', () => {
    const errors = typecheck(packed.project, withoutDisposable, cache);
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error).toMatch(/asyncDispose|AsyncDisposable|Disposable/);
  });
});
