import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StorageBatch } from '../../../src/core/store.js';
import { SluiceError } from '../../../src/index.js';
import { LockNotices } from '../../../src/stores/fs/lock-notices.js';
import { ProcessLock } from '../../../src/stores/fs/lock.js';
import { thisProcess } from '../../../src/stores/fs/process-id.js';
import { deferred } from '../../conformance/harness.js';
import { codeOf, tempQueueDir } from './queue-dir.js';

// How handles wait for a queue directory's lock: woken when it is given up, in turn when one has waited long, and
// holding it through the reload and retry of a commit that found its view stale.
const { file, open, root } = tempQueueDir('sluice-wait-');
const meta = (n: number): StorageBatch => ({ meta: Uint8Array.of(n), durability: 'relaxed' });
/** The start time of process `pid` (field 22 of its /proc stat), or undefined where there is no /proc. */
const startOf = (pid: number) => {
  if (!existsSync(`/proc/${pid}/stat`)) return undefined;
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
};
/** Past the slice in which a handle that has just held the lock (to open, say) may take it again, turns or not. */
const pastSlice = () => new Promise((resolve) => setTimeout(resolve, 30));
const nextTask = () => new Promise((resolve) => setImmediate(resolve));
/** `waiter` takes the lock once `holder` gives it up, after a wait, and gives it up in turn: kept to the end of the task. */
const holdAfterWait = async (holder: ProcessLock, waiter: ProcessLock) => {
  await holder.acquire();
  const waited = waiter.acquire();
  await pastSlice();
  holder.release();
  expect(await waited).toBe('taken');
  waiter.release();
};
/** A file naming `holder` as lock content, linked under `name` (as a handle links its content to take the lock or a turn). */
const plant = (name: string, holder: object) => {
  const content = file(`planted.${name}`);
  writeFileSync(content, JSON.stringify(holder));
  linkSync(content, file(name));
};

describe('LockNotices', () => {
  /** A lock file as a handle makes one: a link to its content. */
  const linked = (name: string) => {
    writeFileSync(file(`${name}.own`), 'holder');
    linkSync(file(`${name}.own`), file(name));
    return lstatSync(file(name)).ino;
  };

  it('wakes a waiter when the watched lock is given up, long before its timer', async () => {
    const notices = new LockNotices();
    try {
      expect(notices.watch(file('lock'), linked('lock'))).toBe(true);
      expect(notices.watching).toBe(true);
      const started = Date.now();
      const woken = notices.next(60_000);
      unlinkSync(file('lock'));
      expect(await woken).toBe(true);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      notices.close();
    }
  });

  it('sleeps through changes of the queue\'s other files, and of other lock files; its timer ends the wait', async () => {
    const notices = new LockNotices();
    try {
      notices.watch(file('lock'), linked('lock'));
      const woken = notices.next(200);
      writeFileSync(file('meta'), 'x');
      writeFileSync(file('commits'), 'y');
      linked('lock.turn');
      unlinkSync(file('lock.turn'));
      expect(await woken).toBe(false);
    } finally {
      notices.close();
    }
  });

  it('watches again when the path names another file, and says so; a file gone before its watch is a change', async () => {
    const notices = new LockNotices();
    try {
      const first = linked('lock');
      expect(notices.watch(file('lock'), first)).toBe(true);
      expect(notices.watch(file('lock'), first)).toBe(false);
      unlinkSync(file('lock'));
      writeFileSync(file('other.own'), 'another holder');
      linkSync(file('other.own'), file('lock'));
      const second = lstatSync(file('lock')).ino;
      expect(notices.watch(file('lock'), second)).toBe(true);
      // Given up by the second holder: heard, though the first watch is gone.
      await notices.next(0);
      const woken = notices.next(60_000);
      unlinkSync(file('lock'));
      expect(await woken).toBe(true);
    } finally {
      notices.close();
    }
    // Looked at, then gone before the watch.
    const late = new LockNotices();
    try {
      expect(late.watch(file('lock'), 1234)).toBe(true);
      expect(late.watching).toBe(false);
      expect(await late.next(60_000)).toBe(true);
    } finally {
      late.close();
    }
  });
});

describe('turns: the first waiter goes next, after the holder\'s slice', () => {
  it('a live process\'s pending turn keeps other handles off the free lock, for a moment only', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const s = await open({ lockTimeoutMs: 0 });
      plant('lock.turn', { ...thisProcess(), pid: child.pid, start: startOf(child.pid!) });
      await pastSlice();
      // Not waiting at all: the lock is free, but it is the other's turn.
      const error = await s.commit(await s.token(), meta(1)).catch((e: unknown) => e);
      expect((error as SluiceError).code).toBe('ERR_LOCKED');
      expect((error as SluiceError).message).toContain('turn is pending');
      // A claimant that does not take the free lock soon is passed over.
      const patient = await open({ lockTimeoutMs: 5_000 });
      expect(await codeOf(patient.commit(await patient.token(), meta(2)))).toBe('resolved');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a turn claimed by a process that died is cleared at once', async () => {
    const dead = Number(String(spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout).trim());
    const s = await open({ lockTimeoutMs: 0 });
    plant('lock.turn', { ...thisProcess(), pid: dead });
    await pastSlice();
    expect(await codeOf(s.commit(await s.token(), meta(1)))).toBe('resolved');
    expect(existsSync(file('lock.turn'))).toBe(false);
  });

  it('a handle that takes the lock again and again may, despite a pending turn, for one slice', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    let now = 0;
    const lock = new ProcessLock(file(), 0, 10_000, 0o600, () => now);
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      expect(await lock.acquire()).toBe('taken');
      lock.release();
      plant('lock.turn', { ...thisProcess(), pid: child.pid, start: startOf(child.pid!) });
      // Taken again at once, and again: still its slice.
      for (now = 1; now < 10; now += 1) {
        expect(await lock.acquire()).toBe('taken');
        lock.release();
      }
      // Its slice is over, though it never stopped: the lock waits for the other's turn.
      expect(now).toBe(10);
      expect(await codeOf(lock.acquire())).toBe('ERR_LOCKED');
    } finally {
      lock.dispose();
      child.kill('SIGKILL');
    }
  });

  it('a handle that finds the lock taken claims the next turn, and gives it up once it holds the lock', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const s = await open({ lockTimeoutMs: 30_000 });
      plant('lock', { ...thisProcess(), pid: child.pid, start: startOf(child.pid!) });
      const committed = s.commit(await s.token(), meta(1));
      while (!existsSync(file('lock.turn'))) await new Promise((resolve) => setTimeout(resolve, 5));
      // The turn is this handle's: a link to its lock content.
      const own = readdirSync(file()).find((name) => name.endsWith('.own'))!;
      expect(lstatSync(file('lock.turn')).ino).toBe(lstatSync(file(own)).ino);
      unlinkSync(file('lock'));
      expect(await committed).toBeDefined();
      expect(existsSync(file('lock.turn'))).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('a hold after a wait', () => {
  it('is given up at the end of the task: a commit that follows at once (a take\'s ack) is made in the same hold', async () => {
    const a = new ProcessLock(file(), 10_000, 10_000, 0o600);
    const b = new ProcessLock(file(), 10_000, 10_000, 0o600);
    try {
      for (const follows of [true, false]) {
        await holdAfterWait(a, b);
        // Still b's: the rest of its slice counts from here.
        expect(existsSync(file('lock'))).toBe(true);
        if (follows) {
          expect(await b.acquire()).toBe('taken');
          b.release();
          expect(existsSync(file('lock'))).toBe(false);
        } else {
          await nextTask();
          expect(existsSync(file('lock'))).toBe(false);
        }
        await pastSlice();
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('a lock kept past a commit', () => {
  it('is given up when this process takes another lock: a loop whose task never ends holds none while it works elsewhere', async () => {
    // Commits whose file calls are synchronous go from microtask to microtask: the end of the task, where a kept lock
    // is given up, may be far off while the loop works on another directory (a partitioned queue's other partition).
    const other = join(root(), 'r');
    mkdirSync(other);
    const a = new ProcessLock(file(), 10_000, 10_000, 0o600);
    const b = new ProcessLock(file(), 10_000, 10_000, 0o600);
    const c = new ProcessLock(other, 10_000, 10_000, 0o600);
    try {
      // Kept for the commit after a stale one.
      await a.acquire();
      a.keep();
      expect(existsSync(file('lock'))).toBe(true);
      await c.acquire();
      expect(existsSync(file('lock'))).toBe(false);
      expect(existsSync(join(other, 'lock'))).toBe(true);
      c.release();
      await pastSlice();
      // The first hold after a wait, kept for the ack that may follow.
      await holdAfterWait(b, a);
      expect(existsSync(file('lock'))).toBe(true);
      await c.acquire();
      expect(existsSync(file('lock'))).toBe(false);
      c.release();
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });
});

describe('a commit that found its view stale', () => {
  it('keeps the lock for the load and the commit after it: no other handle commits in between', async () => {
    const a = await open();
    const b = await open();
    const impatient = await open({ lockTimeoutMs: 0 });
    const t0 = (await a.load()).token;
    await b.commit(await b.token(), meta(1));
    expect(await a.commit(t0, meta(2))).toBeUndefined();
    expect(await codeOf(impatient.commit(await impatient.token(), meta(3)))).toBe('ERR_LOCKED');
    const { token } = await a.load();
    expect(await codeOf(impatient.commit(await impatient.token(), meta(3)))).toBe('ERR_LOCKED');
    // The retry finds its view current, and gives the lock up.
    expect(await a.commit(token, meta(4))).toBeDefined();
    expect(await codeOf(impatient.commit(await impatient.token(), meta(5)))).toBe('resolved');
  });

  it('gives the lock up at the end of the task when no commit follows', async () => {
    const a = await open();
    const b = await open();
    const t0 = (await a.load()).token;
    await b.commit(await b.token(), meta(1));
    expect(await a.commit(t0, meta(2))).toBeUndefined();
    await nextTask();
    expect(existsSync(file('lock'))).toBe(false);
    expect(readdirSync(file()).filter((name) => name.startsWith('lock') && !name.endsWith('.own'))).toEqual([]);
  });

  it('takes the lock again when the one it kept was removed meanwhile, and another handle took it', async () => {
    const a = await open();
    const b = await open();
    const t0 = (await a.load()).token;
    await b.commit(await b.token(), meta(1));
    expect(await a.commit(t0, meta(2))).toBeUndefined();
    // A temp cleaner removes a's kept lock; b takes the lock for a commit that a slow disk holds up.
    unlinkSync(file('lock'));
    const entered = deferred();
    const held = deferred();
    const slow = await open({ sync: { fsync: async () => undefined, fdatasync: async () => (entered.resolve(), held.promise) } });
    const slowCommit = slow.commit(await slow.token(), { write: { segment: 0, offset: 0, bytes: Uint8Array.of(1) }, durability: 'strict' });
    await entered.promise;
    let loaded = false;
    const loading = a.load().then(() => (loaded = true));
    await nextTask();
    expect(loaded).toBe(false);
    held.resolve();
    await slowCommit;
    await loading;
  });
});
