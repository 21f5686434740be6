import { execSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, fdatasync, fsync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Lease, Queue, SluiceError } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { removeLive } from './queue-dir.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-fs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const code = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    return (error as SluiceError).code;
  }
  return 'resolved';
};

describe('new FileStore()', () => {
  it('checks queue names before they touch a path', async () => {
    const store = new FileStore({ dir });
    for (const name of ['../x', '/etc', 'a/b', 'a\\b', '..', '.', '', 'x'.repeat(129)]) {
      expect(await code(store.open(name))).toBe('ERR_INVALID_NAME');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects bad options with ERR_INVALID_OPTION', () => {
    expect(() => new FileStore({ dir: '' })).toThrow(SluiceError);
    // Misspelt, it would have put the queues in ./.sluice.
    expect(() => new FileStore({ directory: dir } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`directory`') }));
    expect(() => new FileStore({ dir, lockTimeoutMs: -1 })).toThrow(/lockTimeoutMs/);
    expect(() => new FileStore({ dir, staleMs: 1.5 })).toThrow(/staleMs/);
    // @ts-expect-error a sync without fdatasync
    expect(() => new FileStore({ dir, sync: { fsync: async () => undefined } })).toThrow(/`sync`/);
    // node:fs's own, which take a callback: every open failed ERR_STORAGE on the first fsync, naming no option.
    expect(() => new FileStore({ dir, sync: { fsync, fdatasync } as never })).toThrow(/`sync`.*return promises/);
    // A lone surrogate would be written as U+FFFD (another directory than the one named, and open never settled); NUL
    // ends a path in the kernel.
    expect(() => new FileStore({ dir: join(dir, 'x\ud800y') })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`dir`') }));
    expect(() => new FileStore({ dir: join(dir, 'x\0y') })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(new FileStore({ dir: join(dir, 'x\ud83d\ude00y') }).dir).toContain('\ud83d\ude00');
    for (const bad of [() => new FileStore({ dir: '' }), () => new FileStore({ dir, staleMs: -1 })]) {
      expect(bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
  });

  it('defaults to .sluice under the working directory', () => {
    expect(new FileStore().dir).toBe(join(process.cwd(), '.sluice'));
  });

  it('is scoped by its directory: stores on one directory, however named, share a scope; others do not', () => {
    expect(new FileStore({ dir: 'q' }).scope).toBe(new FileStore({ dir: join(process.cwd(), 'q') }).scope);
    expect(new FileStore({ dir: 'q' }).scope).not.toBe(new FileStore({ dir: 'r' }).scope);
  });

  it('keeps one directory per queue: segment files, meta, no temp files left', async () => {
    const q = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir }), segmentItems: 10 });
    for (let i = 0; i < 25; i += 5) await q.pushMany(Array.from({ length: 5 }, (_, j) => i + j));
    const lease = await q.take(3);
    await lease!.ack();
    await q.close();
    const files = readdirSync(join(dir, 'jobs')).sort();
    expect(files.filter((f) => f.endsWith('.seg'))).toHaveLength(3);
    expect(files).toContain('meta');
    expect(files.some((f) => f.endsWith('.tmp') || f === 'lock')).toBe(false);
  });

  it('cleans temp files left by a writer that died mid-rename', async () => {
    mkdirSync(join(dir, 'q'), { recursive: true });
    writeFileSync(join(dir, 'q', 'meta.999.abcd.tmp'), 'half');
    const q = await Queue.open({ name: 'q', store: new FileStore({ dir }) });
    expect(readdirSync(join(dir, 'q'))).not.toContain('meta.999.abcd.tmp');
    await q.close();
  });

  it('.exists() is true once a queue was opened, not for any directory of that name', async () => {
    const store = new FileStore({ dir });
    // A directory sluice did not make, named as a second partition of "q" would be.
    mkdirSync(join(dir, 'q.p1'), { mode: 0o700 });
    writeFileSync(join(dir, 'q.p1', 'notes.txt'), 'mine');
    expect(await store.exists('q.p1')).toBe(false);
    const q = await Queue.open<number>({ name: 'q', store });
    await q.push(1);
    await q.close();
    expect(await store.exists('q')).toBe(true);
    // Opening "q" looked for its second partition there, and made nothing in it.
    expect(readdirSync(join(dir, 'q.p1'))).toEqual(['notes.txt']);
  });
});

describe('a dir that cannot be one', () => {
  it('under a file: ERR_INVALID_OPTION saying a part of the path is a file, not ERR_STORAGE', async () => {
    writeFileSync(join(dir, 'afile'), 'x');
    const error = await new FileStore({ dir: join(dir, 'afile', 'sub') }).open('q').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('a part of its path is a file') });
  });

  it('a file where the queue\'s directory goes: ERR_INVALID_OPTION saying so, not ERR_STORAGE with a raw EEXIST', async () => {
    writeFileSync(join(dir, 'q'), 'x');
    const error = await new FileStore({ dir }).open('q').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('a file is there, not a directory') });
  });
});

describe('new FileStore({ create: false })', () => {
  it('opens an existing queue; a handle that only reads adds nothing but its lock file, gone on close', async () => {
    const q = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir }) });
    await q.pushMany([1, 2, 3]);
    await q.close();
    const before = readdirSync(join(dir, 'jobs')).sort();
    const reader = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir, create: false }) });
    expect(await reader.peek(3)).toEqual([1, 2, 3]);
    expect(await reader.stats()).toMatchObject({ size: 3 });
    // Loads hold the queue's lock too, so that a view never mixes two commits: the handle's lock file is its one.
    expect(readdirSync(join(dir, 'jobs')).filter((f) => !before.includes(f))).toEqual([expect.stringMatching(/^lock\.[\d_]+\.[0-9a-f]+\.own$/)]);
    await reader.close();
    expect(readdirSync(join(dir, 'jobs')).sort()).toEqual(before);
  });

  it('a missing queue or directory is ERR_NOT_FOUND, and nothing is created', async () => {
    const store = new FileStore({ dir, create: false });
    await expect(store.open('jobs')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringContaining('no queue "jobs"') });
    expect(readdirSync(dir)).toEqual([]);
    // A directory that is no queue (no commit counter) is not opened as one.
    mkdirSync(join(dir, 'photos'));
    await expect(store.open('photos')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect(readdirSync(join(dir, 'photos'))).toEqual([]);
    const missing = join(dir, 'nowhere');
    await expect(new FileStore({ dir: missing, create: false }).open('jobs')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringContaining('does not exist'),
    });
    expect(existsSync(missing)).toBe(false);
  });

  it('a queue whose commit counter was removed (an outside change it repairs) is still a queue: its items are read', async () => {
    const q = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir }) });
    await q.pushMany([1, 2, 3]);
    await q.close();
    rmSync(join(dir, 'jobs', 'commits'));
    const reader = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir, create: false }) });
    expect(await reader.peek(3)).toEqual([1, 2, 3]);
    await reader.close();
  });

  it('create must be a boolean', () => {
    // @ts-expect-error a string
    expect(() => new FileStore({ dir, create: 'no' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('the process lock', () => {
  it('a live holder past lockTimeoutMs: ERR_LOCKED naming its pid', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      mkdirSync(join(dir, 'q'), { recursive: true });
      writeFileSync(join(dir, 'q', 'lock'), JSON.stringify({ pid: child.pid, host: hostname() }));
      const error = await Queue.open({ name: 'q', store: new FileStore({ dir, lockTimeoutMs: 50 }) }).catch((e) => e);
      expect(error).toBeInstanceOf(SluiceError);
      expect(error.code).toBe('ERR_LOCKED');
      expect(error.message).toContain(`process ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a lock left by a dead process is taken over at once', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']);
    const pid = Number(String(dead.stdout).trim());
    mkdirSync(join(dir, 'q'), { recursive: true });
    writeFileSync(join(dir, 'q', 'lock'), JSON.stringify({ pid, host: hostname() }));
    // lockTimeoutMs 0: not waiting at all, so only a takeover lets these through.
    const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir, lockTimeoutMs: 0 }) });
    await q.push(1);
    expect(await q.size()).toBe(1);
    await q.close();
  });

  it('a lock held by another host is never taken over', async () => {
    mkdirSync(join(dir, 'q'), { recursive: true });
    writeFileSync(join(dir, 'q', 'lock'), JSON.stringify({ pid: 1, host: 'elsewhere.example' }));
    const error = await Queue.open({ name: 'q', store: new FileStore({ dir, lockTimeoutMs: 30 }) }).catch((e: unknown) => e);
    // Its message says what to do: not that a dead process's lock is taken over (this one never is).
    expect(error).toMatchObject({ code: 'ERR_LOCKED', message: expect.stringContaining(`never taken over`) });
    expect((error as Error).message).toContain(`remove ${join(dir, 'q', 'lock')}`);
  });
});

describe('several processes on one directory', () => {
  beforeAll(() => {
    if (!existsSync('dist/fs.js')) execSync('npm run build', { stdio: 'ignore' });
  });

  const worker = (script: string, ...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const source = `import { Queue } from '${process.cwd()}/dist/index.js'; import { FileStore } from '${process.cwd()}/dist/fs.js';\n${script}`;
      const proc = spawn(process.execPath, ['--input-type=module', '-e', source, ...args]);
      let out = '';
      let err = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (err += d));
      proc.on('exit', (status) => (status === 0 ? resolve(out) : reject(new Error(err))));
    });

  it('pushes from two processes at once all land once, each process in its order', async () => {
    const push = `
      const [dir, from] = process.argv.slice(1).map((a, i) => i ? Number(a) : a);
      const q = await Queue.open({ name: 'q', store: new FileStore({ dir }), segmentItems: 37 });
      for (let i = 0; i < 300; i += 30) await Promise.all(Array.from({ length: 30 }, (_, j) => q.push(from + i + j)));
      await q.pushMany(Array.from({ length: 50 }, (_, j) => from + 300 + j));
      await q.close();`;
    await Promise.all([worker(push, dir, '0'), worker(push, dir, '10000')]);
    const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }), segmentItems: 37 });
    const got = (await q.list()).map((e) => e.value);
    await q.close();
    expect(got).toHaveLength(700);
    expect(got.filter((v) => v < 10000)).toEqual(Array.from({ length: 350 }, (_, i) => i));
    expect(got.filter((v) => v >= 10000)).toEqual(Array.from({ length: 350 }, (_, i) => 10000 + i));
  }, 60_000);

  it('a consumer waiting in one process is woken by a push from another', async () => {
    // An hour between polls: only the store's watch can bring the push in time.
    const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }), pollMs: 3_600_000 });
    const waiting = q[Symbol.asyncIterator]().next();
    await worker(`
      const q = await Queue.open({ name: 'q', store: new FileStore({ dir: process.argv[1] }) });
      await q.push(42);
      await q.close();`, dir);
    const next = await waiting;
    expect(next.done).toBe(false);
    const lease = next.value as Lease<number>;
    expect(lease.entries.map((e) => e.value)).toEqual([42]);
    await lease.ack();
    await q.close();
  }, 60_000);

  it('two processes draining one queue take every item exactly once', async () => {
    const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
    await q.pushMany(Array.from({ length: 600 }, (_, i) => i));
    await q.close();
    const drain = `
      const q = await Queue.open({ name: 'q', store: new FileStore({ dir: process.argv[1] }) });
      const got = [];
      for (let lease = await q.take(7); lease; lease = await q.take(7)) { got.push(...lease.entries.map((e) => e.value)); await lease.ack(); }
      await q.close();
      console.log(JSON.stringify(got));`;
    const outs = await Promise.all([worker(drain, dir), worker(drain, dir)]);
    const all = outs.flatMap((o) => JSON.parse(o) as number[]);
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 600 }, (_, i) => i));
  }, 60_000);
});

describe('failures', () => {
  it('a commit that fails rejects with a SluiceError and never claims success', async () => {
    const store = new FileStore({ dir });
    const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
    await q.push(1);
    // Removing the directory under the handle makes the next commit fail; it must reject, not claim success.
    await removeLive(join(dir, 'q'));
    expect(await code(q.push(2))).toBe('ERR_NOT_FOUND');
    await q.close();
  });

  it('a handle with nothing to commit closes, and finds nothing to take, though its directory was removed', async () => {
    const store = new FileStore({ dir });
    const q = await Queue.open<number>({ name: 'q', store });
    await q.push(1);
    await (await q.take(1))!.ack();
    // The lock kept after the ack is given up a turn later: its files may come and go while the directory goes.
    await removeLive(join(dir, 'q'));
    expect(await q.take(1)).toBeUndefined();
    await q.close();
  });
});
