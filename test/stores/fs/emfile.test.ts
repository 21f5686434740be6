import { execFileSync, spawnSync } from 'node:child_process';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { patchFs, realFs, restoreFsAfterEach } from './patch-fs.js';

// README: a process out of file descriptors gets ERR_STORAGE naming EMFILE; nothing is lost, and the handle works again
// once descriptors are free. A 'strict' commit also opens the queue's directory to sync it: that open failing is no
// failed fsync (which would make the handle unusable for good). The child lowers its own limit, then takes every
// descriptor left; it imports the built package.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-emfile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
restoreFsAfterEach();

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

it.skipIf(!hasPrlimit)('a strict queue that runs out of descriptors works again once they are free, nothing lost', () => {
  const source = `
    import { closeSync, openSync } from 'node:fs';
    import { execSync } from 'node:child_process';
    import { Queue } from '${process.cwd()}/dist/index.js';
    import { FileStore } from '${process.cwd()}/dist/fs.js';
    const outcome = (p) => p.then(() => 'ok', (e) => e.code + (e.message.includes('EMFILE') ? ' EMFILE' : '') + (e.message.includes('unusable') ? ' unusable' : ''));
    execSync('prlimit --pid ' + process.pid + ' --nofile=64:64');
    const q = await Queue.open({ name: 'q', store: new FileStore({ dir: process.argv[1] }), durability: 'strict', segmentItems: 2 });
    await q.push(0);
    const hogs = [];
    try { for (;;) hogs.push(openSync('/dev/null', 'r')); } catch {}
    const out = [await outcome(q.pushMany([1, 2, 3]))];
    for (const fd of hogs) closeSync(fd);
    out.push(await outcome(q.push(4)), await outcome(q.size().then((n) => { if (n !== 2) throw new Error('size ' + n); })), await outcome(q.close()));
    const again = await Queue.open({ name: 'q', store: new FileStore({ dir: process.argv[1] }) });
    out.push(JSON.stringify((await again.list()).map((e) => e.value)));
    await again.close();
    console.log(out.join('|'));`;
  const printed = execFileSync(process.execPath, ['--input-type=module', '-e', source, dir], { encoding: 'utf8', timeout: 60_000 }).trim();
  expect(printed.split('|')).toEqual(['ERR_STORAGE EMFILE', 'ok', 'ok', 'ok', '[0,4]']);
});

// The same without a child or a limit, the timing forced: the directory's open fails (EMFILE) while the new segment's
// sync still runs. Before, the undo closed the segment under that sync, which then failed (EBADF), and the handle took
// it for a failed fsync: 'unusable' for good.
it('a strict commit whose directory open fails while its segment syncs waits for that sync: the handle goes on', async () => {
  let refuseDir = false;
  const slowSync = (fd: number) =>
    new Promise<void>((resolve, reject) => setTimeout(() => fs.fsync(fd, (error) => (error ? reject(error) : resolve())), 30));
  const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir, sync: { fsync: slowSync, fdatasync: slowSync } }), durability: 'strict', segmentItems: 2 });
  try {
    await q.pushMany([0, 1]);
    patchFs({
      openSync: ((path: Parameters<typeof fs.openSync>[0], ...rest: unknown[]) => {
        if (refuseDir && fs.statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
          throw Object.assign(new Error('EMFILE: too many open files, simulated'), { code: 'EMFILE' });
        }
        return (realFs.openSync as (...args: unknown[]) => number)(path, ...rest);
      }) as typeof fs.openSync,
    });
    refuseDir = true;
    // A new segment: its data synced and the directory opened to sync its name, at once.
    await expect(q.push(2)).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining('EMFILE') });
    refuseDir = false;
    // The segment's sync ends meanwhile (before, on the descriptor the undo had closed).
    await new Promise((resolve) => setTimeout(resolve, 80));
    await q.push(3);
    expect(await q.size()).toBe(3);
  } finally {
    refuseDir = false;
    await q.close().catch(() => undefined);
  }
  const again = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
  expect((await again.list()).map((e) => e.value)).toEqual([0, 1, 3]);
  await again.close();
});
