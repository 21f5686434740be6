import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { uptime } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import type { StorageBatch } from '../../../src/core/store.js';
import { SluiceError } from '../../../src/index.js';
import { LockFiles } from '../../../src/stores/fs/lock-files.js';
import { thisProcess } from '../../../src/stores/fs/process-id.js';
import { codeOf, heldSync, tempQueueDir } from './queue-dir.js';

// The queue directory's lock across restarts: whose lock is taken over, whose never.
const { file, open } = tempQueueDir('sluice-lock-');
const relaxed = (batch: Omit<StorageBatch, 'durability'>): StorageBatch => ({ ...batch, durability: 'relaxed' });
const linux = existsSync('/proc/self/stat');
const startOf = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
};
const plant = (holder: object) => writeFileSync(file('lock'), JSON.stringify(holder));

describe.runIf(linux)('a lock left by an earlier process with the same pid', () => {
  it('(pid 1 of a restarted container: same host, boot and pid, earlier start) is taken over at once', async () => {
    const me = thisProcess();
    plant({ ...me, start: me.start! - 50 });
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('resolved');
    expect(existsSync(file('lock'))).toBe(false);
  });

  it('is never this live process\'s own lock, nor a live child\'s', async () => {
    plant(thisProcess());
    const error = await open({ lockTimeoutMs: 50 }).catch((e: unknown) => e);
    expect((error as SluiceError).code).toBe('ERR_LOCKED');
    expect((error as SluiceError).message).toContain(`process ${process.pid}`);
    // Not "stop it": the holder is this very process (a worker thread terminated while it committed).
    expect((error as SluiceError).message).toContain('That is this process: a handle of it holds the lock (a worker thread terminated while it committed');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      plant({ ...thisProcess(), pid: child.pid, start: startOf(child.pid!) });
      expect(await codeOf(open({ lockTimeoutMs: 50 }))).toBe('ERR_LOCKED');
      // Killed, the same lock is taken over at once.
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('resolved');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('of another pid namespace on this host (another container) is taken over only once older than staleMs', async () => {
    const me = thisProcess();
    if (!me.ns) return;
    plant({ ...me, ns: '1' });
    const error = await open({ lockTimeoutMs: 0 }).catch((e: unknown) => e);
    expect((error as SluiceError).code).toBe('ERR_LOCKED');
    expect((error as SluiceError).message).toContain('another pid namespace');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(file('lock'), minuteAgo, minuteAgo);
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('resolved');
  });

  // Docker and Kubernetes give each container a host name of its own: its lock was taken for another machine's, never
  // taken over, and every other process failed ERR_LOCKED for good once it was killed holding it.
  it('of a container with a host name of its own (same boot id, another pid namespace) is taken over once older than staleMs', async () => {
    const me = thisProcess();
    if (!me.ns || !me.boot) return;
    plant({ ...me, host: 'container-1', ns: '1' });
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('ERR_LOCKED');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(file('lock'), minuteAgo, minuteAgo);
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('resolved');
    // Of a host renamed since, the pid gone: at once.
    plant({ ...me, host: 'before-rename', pid: 4_000_000 });
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('resolved');
  });

  // Before, it waited for the clock to catch up with the date: an hour ahead, an hour of ERR_LOCKED.
  it.each([
    ['left empty by a power cut', () => writeFileSync(file('lock'), '')],
    ['of another pid namespace', () => plant({ ...thisProcess(), ns: '1' })],
  ])('%s, dated an hour ahead (written while the clock was ahead, set back since): taken over once seen unchanged for staleMs', async (_, make) => {
    if (!thisProcess().ns) return;
    make();
    const hourAhead = new Date(Date.now() + 3_600_000);
    utimesSync(file('lock'), hourAhead, hourAhead);
    expect(await codeOf(open({ staleMs: 2_000, lockTimeoutMs: 500 }))).toBe('ERR_LOCKED');
    expect(await codeOf(open({ staleMs: 300, lockTimeoutMs: 3_000 }))).toBe('resolved');
  });

  // Before, a process that began after the wall clock stepped forward (a container started once NTP set the clock)
  // believed the date, and took a live holder's lock in the middle of its commit.
  it.runIf(linux)('of another pid namespace, dated in this boot yet before it (a step before this process began): taken only once seen held staleMs', async () => {
    const me = thisProcess();
    if (!me.ns || !me.boot) return;
    plant({ ...me, ns: '1' });
    const beforeBoot = new Date(Date.now() - uptime() * 1000 - 60_000);
    utimesSync(file('lock'), beforeBoot, beforeBoot);
    expect(await codeOf(open({ staleMs: 2_000, lockTimeoutMs: 500 }))).toBe('ERR_LOCKED');
    expect(await codeOf(open({ staleMs: 300, lockTimeoutMs: 3_000 }))).toBe('resolved');
  });
});

/** A handle `a` whose commits wait on `slow`'s fsync, its lock content (`own`) as a handle in another container has it. */
async function inAnotherContainer() {
  const slow = heldSync();
  const a = await open({ sync: slow.sync });
  const [own] = readdirSync(file()).filter((n) => n.endsWith('.own'));
  writeFileSync(file(own!), JSON.stringify({ ...thisProcess(), ns: '1' }));
  return { slow, a, own: own! };
}

describe.runIf(linux)('a live holder in another pid namespace (another container)', () => {
  it('keeps the lock through a slow commit however long ago its handle was made', async () => {
    if (!thisProcess().ns) return;
    const { slow, a, own } = await inAnotherContainer();
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(file(own), minuteAgo, minuteAgo);
    const b = await open({ staleMs: 10_000, lockTimeoutMs: 5_000 });
    // Past the run of holds a's open began (a run's first hold dates the lock).
    await new Promise((resolve) => setTimeout(resolve, 30));
    const first = a.commit((await a.load()).token, { write: { segment: 0, offset: 0, bytes: Uint8Array.of(1) }, durability: 'strict' });
    await slow.entered;
    // b waits past several of its looks at the holder (each a few milliseconds apart) while a's fsync goes on.
    let bDone = false;
    const second = b.token().then((token) => b.commit(token, relaxed({ meta: Uint8Array.of(2) }))).then(() => (bDone = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(bDone).toBe(false);
    slow.release();
    expect(await first).toBeDefined();
    await second;
  });
});

describe.runIf(linux)('a step of the wall clock while a holder in another pid namespace commits', () => {
  it('neither takes its lock over (two writers) nor fails the waiter ERR_LOCKED: an hour forward, mid-commit', async () => {
    if (!thisProcess().ns) return;
    const { slow, a, own } = await inAnotherContainer();
    const b = await open({ staleMs: 3_000, lockTimeoutMs: 5_000 });
    const first = a.commit((await a.load()).token, { write: { segment: 0, offset: 0, bytes: Uint8Array.of(1) }, durability: 'strict' });
    await slow.entered;
    let bDone: unknown;
    const second = b.token().then((token) => b.commit(token, relaxed({ meta: Uint8Array.of(2) }))).then(() => (bDone = 'committed'), (error: unknown) => (bDone = error));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // NTP, or a laptop waking: the wall clock an hour on, the holder's lock file an hour old by it.
    const real = Date.now.bind(Date);
    const step = vi.spyOn(Date, 'now').mockImplementation(() => real() + 3_600_000);
    try {
      // Past many of b's looks at the holder (within staleMs of them: a holder seen that long is taken for dead).
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(bDone).toBeUndefined();
      expect(lstatSync(file('lock')).ino).toBe(lstatSync(file(own)).ino);
      slow.release();
      expect(await first).toBeDefined();
      await second;
      expect(bDone).toBe('committed');
    } finally {
      step.mockRestore();
      slow.release();
    }
  });
});

describe('the lock files of live handles', () => {
  it('a handle whose lock content file a temp cleaner removed writes it again', async () => {
    const s = await open();
    for (const name of readdirSync(file()).filter((n) => n.endsWith('.own'))) unlinkSync(file(name));
    expect(await s.commit((await s.load()).token, relaxed({ meta: Uint8Array.of(1) }))).toBeDefined();
  });

  it('a holder whose lock file was removed and taken meanwhile leaves the new holder\'s lock in place', async () => {
    const slow = [heldSync(), heldSync()];
    const a = await open({ sync: slow[0]!.sync });
    const b = await open({ sync: slow[1]!.sync });
    const strict = (bytes: number[]): StorageBatch => ({ write: { segment: 0, offset: 0, bytes: Uint8Array.from(bytes) }, durability: 'strict' });
    const first = a.commit((await a.load()).token, strict([1]));
    await slow[0]!.entered;
    // Someone removes the lock while a commits; b takes it.
    unlinkSync(file('lock'));
    const second = b.commit(await b.token(), strict([2]));
    await slow[1]!.entered;
    const bLock = lstatSync(file('lock')).ino;
    slow[0]!.release();
    await first;
    // a's release left b's lock alone.
    expect(lstatSync(file('lock')).ino).toBe(bLock);
    slow[1]!.release();
    await second;
    expect(existsSync(file('lock'))).toBe(false);
  });
});

describe('a lock the directory would not let go of', () => {
  it('a release refused (a read-only or immutable directory for a moment) leaves the lock this handle\'s: its next commit takes it as is, and others go on once it can be removed', async () => {
    const a = await open({ lockTimeoutMs: 300 });
    const b = await open({ lockTimeoutMs: 5000 });
    const token = (await a.load()).token;
    const drop = LockFiles.prototype.drop;
    let refused = 0;
    LockFiles.prototype.drop = function (this: LockFiles, path: string) {
      if (path.endsWith('lock') && refused++ === 0) throw Object.assign(new Error('EPERM: operation not permitted, unlink'), { code: 'EPERM' });
      return drop.call(this, path);
    };
    try {
      // The commit is made; giving the lock up after it fails.
      await a.commit(token, relaxed({ meta: Uint8Array.of(1) })).catch(() => undefined);
      expect(refused).toBe(1);
    } finally {
      LockFiles.prototype.drop = drop;
    }
    // Its own lock: not waited on (ERR_LOCKED naming this very process, before the fix), and given up after.
    expect(await a.commit(await a.token(), relaxed({ meta: Uint8Array.of(2) }))).toBeDefined();
    expect(await b.commit(await b.token(), relaxed({ meta: Uint8Array.of(3) }))).toBeDefined();
    expect(existsSync(file('lock'))).toBe(false);
  });
});
