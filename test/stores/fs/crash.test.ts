import { execSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';

// Real SIGKILLs of real processes; the children import the built package.
describe('FileStore under SIGKILL', () => {
  beforeAll(() => {
    if (!existsSync('dist/fs.js')) execSync('npm run build', { stdio: 'ignore' });
  });

  it('a pusher and a consumer killed at random moments lose, double and corrupt nothing (relaxed)', async () => {
    // @ts-expect-error a plain ES module without types
    const { crashTest } = await import('../../stress/fs-crash.mjs');
    const result = await crashTest({ kills: 8, durability: 'relaxed' });
    expect(result.kills).toBeGreaterThanOrEqual(8);
    expect(result.pushed).toBeGreaterThan(0);
  }, 120_000);

  it('the same with durability "strict"', async () => {
    // @ts-expect-error a plain ES module without types
    const { crashTest } = await import('../../stress/fs-crash.mjs');
    const result = await crashTest({ kills: 4, durability: 'strict' });
    expect(result.pushed).toBeGreaterThan(0);
  }, 120_000);

  it('a process killed while it holds the lock, mid-fsync, blocks nobody and leaves every resolved push', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-kill-'));
    try {
      // The child pushes 1..10, then a push whose fsync never returns: it holds the queue's lock when killed.
      const source = `
        import { Queue } from '${process.cwd()}/dist/index.js';
        import { FileStore } from '${process.cwd()}/dist/fs.js';
        import { fdatasync, fsync } from 'node:fs';
        let hang = false;
        const wrap = (fn) => (fd) => hang ? (console.log('hanging'), new Promise(() => {})) : new Promise((ok, no) => fn(fd, (e) => (e ? no(e) : ok())));
        const store = new FileStore({ dir: process.argv[1], sync: { fsync: wrap(fsync), fdatasync: wrap(fdatasync) } });
        const q = await Queue.open({ name: 'q', store, durability: 'strict' });
        for (let i = 1; i <= 10; i++) await q.push(i);
        hang = true;
        await q.push(11);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', source, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => String(d).includes('hanging') && resolve()));
      const lock = JSON.parse(readFileSync(join(dir, 'q', 'lock'), 'utf8'));
      expect(lock.pid).toBe(child.pid);
      // With the time that pid started, so that a later process with the same pid is not taken for the holder.
      if (existsSync(`/proc/${child.pid}/stat`)) {
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        expect(lock.start).toBe(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]));
      }
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      // Not waiting at all (lockTimeoutMs 0): a dead holder's lock is taken over at once.
      const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir, lockTimeoutMs: 0 }) });
      const values = (await q.list()).map((e) => e.value);
      // 11 was written but its push never resolved: it may be there or not; 1..10 must.
      expect(values.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(values.length === 10 || values[10] === 11).toBe(true);
      await q.push(12);
      expect((await q.list()).at(-1)!.value).toBe(12);
      await q.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
