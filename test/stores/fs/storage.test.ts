import { spawnSync } from 'node:child_process';
import { existsSync, fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, watch, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueStorage, StorageBatch } from '../../../src/core/store.js';
import { SluiceError } from '../../../src/index.js';
import { FileStore, type FileStoreOptions } from '../../../src/fs.js';
import { deferred } from '../../conformance/harness.js';
import { Scratch } from '../../faults/scratch.js';
import { heldSync } from './queue-dir.js';

// The raw Store contract as FileStore keeps it on disk: what each commit leaves in the queue's directory.
let dir: string;
let opened: QueueStorage[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-fs-'));
  opened = [];
});
afterEach(async () => {
  for (const storage of opened) await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = async (options: Omit<FileStoreOptions, 'dir'> = {}) => {
  // Made beforehand, so that the syncs a test records or fails are those of its commits.
  mkdirSync(join(dir, 'q'), { recursive: true });
  const storage = await new FileStore({ dir, ...options }).open('q');
  opened.push(storage);
  return storage;
};
const bytes = (...values: number[]) => Uint8Array.from(values);
const relaxed = (batch: Omit<StorageBatch, 'durability'>): StorageBatch => ({ ...batch, durability: 'relaxed' });
const strict = (batch: Omit<StorageBatch, 'durability'>): StorageBatch => ({ ...batch, durability: 'strict' });
const file = (name: string) => join(dir, 'q', name);
const seg = (id: number) => file(`${String(id).padStart(16, '0')}.seg`);
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof SluiceError ? error.code : `not a SluiceError: ${String(error)}`),
  );
/** The pid of a process that has exited. */
const deadPid = () => Number(String(spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout).trim());
const BOOT_ID = '/proc/sys/kernel/random/boot_id';
const endOfTask = () => new Promise((resolve) => setImmediate(resolve));
const eio = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });

describe('FileQueueStorage.commit()', () => {
  it('applies a batch only when the token is current, whichever FileStore committed last', async () => {
    const a = await open();
    const b = await open();
    const t0 = (await a.load()).token;
    const t1 = await a.commit(t0, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1, 2) } }));
    expect(t1).toBeDefined();
    expect(t1).not.toBe(t0);
    expect(await b.token()).toBe(t1);
    // b's view is from before a's commit: nothing is written.
    expect(await b.commit(t0, relaxed({ write: { segment: 0, offset: 2, bytes: bytes(9) } }))).toBeUndefined();
    expect([...readFileSync(seg(0))]).toEqual([1, 2]);
    expect(await b.commit(t1!, relaxed({ write: { segment: 0, offset: 2, bytes: bytes(3) } }))).toBeDefined();
    expect([...(await a.read(0, 0, 10))]).toEqual([1, 2, 3]);
  });

  it('a write at an earlier offset cuts the file there', async () => {
    const s = await open();
    let token = (await s.load()).token;
    token = (await s.commit(token, strict({ write: { segment: 7, offset: 0, bytes: bytes(1, 2, 3, 4, 5) } })))!;
    token = (await s.commit(token, strict({ write: { segment: 7, offset: 2, bytes: bytes(8) } })))!;
    expect([...readFileSync(seg(7))]).toEqual([1, 2, 8]);
    expect((await s.load()).segments).toEqual([{ id: 7, length: 3 }]);
    await s.commit(token, relaxed({ write: { segment: 7, offset: 0, bytes: bytes() } }));
    expect(statSync(seg(7)).size).toBe(0);
  });

  it('removes segment files, and quarantines them as .bad files no longer listed', async () => {
    const s = await open();
    let token = (await s.load()).token;
    for (const id of [0, 10, 20]) token = (await s.commit(token, relaxed({ write: { segment: id, offset: 0, bytes: bytes(id) } })))!;
    token = (await s.commit(token, strict({ remove: [0], quarantine: [10] })))!;
    expect(existsSync(seg(0))).toBe(false);
    expect([...readFileSync(`${seg(10)}.bad`)]).toEqual([10]);
    expect((await s.load()).segments).toEqual([{ id: 20, length: 1 }]);
    expect((await s.read(10, 0, 1)).length).toBe(0);
  });

  it('replaces the metadata whole, through a temp file that never stays behind', async () => {
    const s = await open();
    let token = (await s.load()).token;
    expect((await s.load()).meta).toBeUndefined();
    token = (await s.commit(token, strict({ meta: bytes(1, 1, 1, 1) })))!;
    await s.commit(token, relaxed({ meta: bytes(2) }));
    expect([...readFileSync(file('meta'))]).toEqual([2]);
    expect([...(await s.load()).meta!]).toEqual([2]);
    expect(readdirSync(join(dir, 'q')).filter((name) => name.startsWith('meta.'))).toEqual([]);
  });

  it('a leftover temp file is neither read as metadata nor kept', async () => {
    const s = await open();
    await s.commit((await s.load()).token, relaxed({ meta: bytes(5) }));
    writeFileSync(file('meta.12345.dead.tmp'), bytes(6, 6));
    const again = await open();
    expect([...(await again.load()).meta!]).toEqual([5]);
    expect(existsSync(file('meta.12345.dead.tmp'))).toBe(false);
  });

  it('makes segment after segment, and leaves nothing but segments, meta, the counter and the reserve once closed', async () => {
    const s = await open();
    let token = (await s.load()).token;
    for (let id = 0; id < 50; id += 10) {
      token = (await s.commit(token, strict({ write: { segment: id, offset: 0, bytes: bytes(id, id) } })))!;
      // Other work in between lets a spare file be made ahead of the next segment.
      await s.read(id, 0, 2);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await s.load()).segments).toEqual([0, 10, 20, 30, 40].map((id) => ({ id, length: 2 })));
    for (const id of [0, 10, 20, 30, 40]) expect([...readFileSync(seg(id))]).toEqual([id, id]);
    await s.close();
    const names = readdirSync(join(dir, 'q')).filter((name) => !name.endsWith('.seg'));
    expect(names.sort()).toEqual(['commits', 'reserve']);
  });

  it('clears what dead writers left, never what a live process is using', async () => {
    mkdirSync(join(dir, 'q'));
    const dead = deadPid();
    const left = [`meta.${process.pid}.0a.tmp`, `lock.${dead}.0b.own`, `lock.${dead}.0c.tmp`, `spare.${dead}.0f.tmp`];
    const live = [`lock.${process.pid}.0d.tmp`, `lock.${process.pid}.0e.own`, `spare.${process.pid}.10.tmp`];
    for (const name of [...left, ...live]) writeFileSync(file(name), '');
    await open();
    const names = readdirSync(join(dir, 'q'));
    for (const name of left) expect(names).not.toContain(name);
    for (const name of live) expect(names).toContain(name);
  });

  it('never writes into a segment another handle removed and created again', async () => {
    const a = await open();
    const b = await open();
    let token = (await a.commit((await a.load()).token, relaxed({ write: { segment: 3, offset: 0, bytes: bytes(1, 1) } })))!;
    expect([...(await a.read(3, 0, 2))]).toEqual([1, 1]);
    token = (await b.commit(token, relaxed({ remove: [3] })))!;
    token = (await b.commit(token, relaxed({ write: { segment: 3, offset: 0, bytes: bytes(2) } })))!;
    // a holds a descriptor of the old, unlinked file; its next commit must reach the new one.
    expect((await a.load()).segments).toEqual([{ id: 3, length: 1 }]);
    await a.commit(token, relaxed({ write: { segment: 3, offset: 1, bytes: bytes(3) } }));
    expect([...readFileSync(seg(3))]).toEqual([2, 3]);
    expect([...(await a.read(3, 0, 9))]).toEqual([2, 3]);
  });
});

describe('FileQueueStorage durability', () => {
  /** A sync that records, at each call, what it syncs and what the directory holds at that moment. */
  const recording = () => {
    const log: string[] = [];
    const note = (kind: string) => async (fd: number) => {
      const what = fstatSync(fd).isDirectory() ? 'dir' : 'file';
      const meta = existsSync(file('meta')) ? [...readFileSync(file('meta'))].join() : '-';
      log.push(`${kind} ${what} meta=${meta} seg0=${existsSync(seg(0)) ? 'yes' : 'no'}`);
    };
    return { log, sync: { fsync: note('fsync'), fdatasync: note('fdatasync') } };
  };

  it('strict: data, then a new file\'s directory entry, then metadata before its rename, then removals, each synced before the commit resolves', async () => {
    const { log, sync } = recording();
    const s = await open({ sync });
    let token = (await s.load()).token;
    token = (await s.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) }, meta: bytes(1) })))!;
    expect(log).toEqual([]);
    await s.commit(token, strict({ write: { segment: 5, offset: 0, bytes: bytes(2) }, meta: bytes(2), remove: [0] }));
    expect(log).toEqual([
      'fdatasync file meta=1 seg0=yes', // the new segment's bytes
      'fsync dir meta=1 seg0=yes', // its name
      'fsync file meta=1 seg0=yes', // the new metadata, still under its temp name
      'fsync dir meta=2 seg0=yes', // the rename, before any segment goes
      'fsync file meta=2 seg0=yes', // `commits`, whose record of the newest segment must not name one since removed
      'fsync dir meta=2 seg0=no', // the removal
    ]);
  });

  it('a new queue directory is synced into its parent before the queue is used', async () => {
    const { log, sync } = recording();
    opened.push(await new FileStore({ dir: join(dir, 'store'), sync }).open('fresh'));
    // The store's directory into the temp dir, then the queue's directory into the store's.
    expect(log).toEqual(['fsync dir meta=- seg0=no', 'fsync dir meta=- seg0=no']);
    log.length = 0;
    opened.push(await new FileStore({ dir: join(dir, 'store'), sync }).open('fresh'));
    expect(log).toEqual([]);
  });

  it('strict: an append to an existing segment costs one fdatasync', async () => {
    const { log, sync } = recording();
    const s = await open({ sync });
    const token = (await s.commit((await s.load()).token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) } })))!;
    await s.commit(token, strict({ write: { segment: 0, offset: 1, bytes: bytes(2) } }));
    expect(log).toEqual(['fdatasync file meta=- seg0=yes']);
  });
});

describe('FileQueueStorage with a failing disk', () => {
  it('an fsync error rejects the commit with ERR_STORAGE and makes the handle unusable', async () => {
    const failing = { fsync: async () => Promise.reject(eio()), fdatasync: async () => Promise.reject(eio()) };
    const s = await open({ sync: failing });
    const token = (await s.load()).token;
    // Relaxed commits never fsync, so the disk's trouble does not show yet.
    const t1 = (await s.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) } })))!;
    const error = await s.commit(t1, strict({ write: { segment: 0, offset: 1, bytes: bytes(2) } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('ERR_STORAGE');
    expect(((error as SluiceError).cause as NodeJS.ErrnoException).code).toBe('EIO');
    // Never retried as if it had worked: every later call says the same.
    for (const call of [s.token(), s.load(), s.read(0, 0, 1), s.commit(t1, relaxed({ meta: bytes(1) }))]) {
      await expect(call).rejects.toBe(error);
    }
    // The lock went back: another handle commits at once, and sees that something may have changed.
    const other = await open({ lockTimeoutMs: 0 });
    expect(await other.token()).not.toBe(t1);
    expect(await codeOf(other.commit((await other.load()).token, relaxed({ meta: bytes(1) })))).toBe('resolved');
  });

  it('a full disk is ERR_QUOTA_EXCEEDED, and the handle stays usable once there is room', async (context) => {
    // A real full disk: a small tmpfs, filled up (as root; skipped elsewhere).
    const scratch = Scratch.create(1 << 20);
    try {
      if (!scratch.canFill) context.skip();
      mkdirSync(join(scratch.path, 'q'));
      const s = await new FileStore({ dir: scratch.path }).open('q');
      const token = (await s.load()).token;
      const free = scratch.fill();
      let error: unknown;
      try {
        // Pages the disk no longer has.
        error = await s.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: new Uint8Array(64 << 10).fill(1) } })).catch((e: unknown) => e);
      } finally {
        free();
      }
      expect((error as SluiceError).code).toBe('ERR_QUOTA_EXCEEDED');
      expect(((error as SluiceError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
      // What a failed commit left is unknown: every view is stale, and the next commit on a fresh one goes through.
      expect(await s.commit(token, relaxed({ meta: bytes(1) }))).toBeUndefined();
      const snapshot = await s.load();
      expect(await s.commit(snapshot.token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) }, meta: bytes(1) }))).toBeDefined();
      expect([...(await s.read(0, 0, 9))]).toEqual([1]);
      await s.close();
    } finally {
      scratch.dispose();
    }
  });

  it('a directory that refuses changes: commits fail with ERR_STORAGE, close still releases everything, and it works again once writable', async (context) => {
    const scratch = Scratch.create(1 << 20);
    try {
      // Root ignores permissions: then a read-only mount, which needs the scratch tmpfs.
      if (!scratch.mounted && process.getuid?.() === 0) context.skip();
      mkdirSync(join(scratch.path, 'q'));
      const s = await new FileStore({ dir: scratch.path }).open('q');
      let token = (await s.load()).token;
      token = (await s.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) } })))!;
      const restore = scratch.readOnly(join(scratch.path, 'q'));
      try {
        const error = await s.commit(token, relaxed({ write: { segment: 0, offset: 1, bytes: bytes(2) } })).catch((e: unknown) => e);
        expect((error as SluiceError).code).toBe('ERR_STORAGE');
        expect(['EROFS', 'EACCES']).toContain(((error as SluiceError).cause as NodeJS.ErrnoException).code);
        const other = await new FileStore({ dir: scratch.path }).open('q').catch((e: unknown) => e);
        expect((other as SluiceError).code).toBe('ERR_STORAGE');
        await s.close();
      } finally {
        restore();
      }
      const again = await new FileStore({ dir: scratch.path }).open('q');
      const snapshot = await again.load();
      expect(snapshot.segments).toEqual([{ id: 0, length: 1 }]);
      expect(await again.commit(snapshot.token, relaxed({ write: { segment: 0, offset: 1, bytes: bytes(2) } }))).toBeDefined();
      await again.close();
    } finally {
      scratch.dispose();
    }
  });

  it('after close, every call is ERR_CLOSED', async () => {
    const s = await open();
    const token = (await s.load()).token;
    await s.close();
    for (const call of [s.token(), s.load(), s.read(0, 0, 1), s.commit(token, relaxed({ meta: bytes(1) }))]) {
      expect(await codeOf(call)).toBe('ERR_CLOSED');
    }
  });
});

describe('the process lock between FileStores', () => {
  it('a commit waits while another handle holds the lock, then sees that handle\'s commit', async () => {
    const slow = heldSync();
    const a = await open({ sync: slow.sync });
    const b = await open();
    const impatient = await open({ lockTimeoutMs: 0 });
    const token = (await a.load()).token;
    const first = a.commit(token, strict({ write: { segment: 0, offset: 0, bytes: bytes(1) } }));
    await slow.entered;
    // a holds the lock mid-commit: a FileStore that will not wait fails at once, naming this process.
    const locked = await impatient.commit(token, relaxed({ meta: bytes(1) })).catch((e: unknown) => e);
    expect((locked as SluiceError).code).toBe('ERR_LOCKED');
    expect((locked as SluiceError).message).toContain(`process ${process.pid} on ${hostname()}`);
    // One that waits gets in after a's commit, and its stale view writes nothing.
    const second = b.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(2) } }));
    slow.release();
    expect(await first).toBeDefined();
    expect(await second).toBeUndefined();
    expect([...readFileSync(seg(0))]).toEqual([1]);
    // A commit that found its view stale keeps the lock to the end of the task, for the reload and the retry.
    await endOfTask();
    expect(existsSync(file('lock'))).toBe(false);
  });

  it('a dead holder\'s lock is taken over, and every earlier view counts as stale', async () => {
    const s = await open();
    const token = (await s.load()).token;
    writeFileSync(file('lock'), JSON.stringify({ pid: deadPid(), host: hostname() }));
    // The dead holder may have been mid-commit, so a token from before cannot be trusted.
    expect(await s.commit(token, relaxed({ meta: bytes(1) }))).toBeUndefined();
    await endOfTask();
    expect(existsSync(file('lock'))).toBe(false);
    expect(await s.commit(await s.token(), relaxed({ meta: bytes(1) }))).toBeDefined();
  });

  it.runIf(existsSync(BOOT_ID))('a lock from before the last boot is taken over, though its pid is in use again', async () => {
    mkdirSync(join(dir, 'q'));
    const boot = '00000000-0000-0000-0000-000000000000';
    writeFileSync(file('lock'), JSON.stringify({ pid: process.pid, host: hostname(), boot }));
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('resolved');
  });

  it('a live holder past lockTimeoutMs is ERR_LOCKED naming its pid; a holder on another host is never taken over', async () => {
    mkdirSync(join(dir, 'q'));
    writeFileSync(file('lock'), JSON.stringify({ pid: process.pid, host: hostname() }));
    const error = await open({ lockTimeoutMs: 0 }).catch((e: unknown) => e);
    expect((error as SluiceError).code).toBe('ERR_LOCKED');
    expect((error as SluiceError).message).toContain(`process ${process.pid}`);
    writeFileSync(file('lock'), JSON.stringify({ pid: deadPid(), host: 'elsewhere.example' }));
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('ERR_LOCKED');
  });

  it('a takeover cut short by a kill does not block the next one', async () => {
    mkdirSync(join(dir, 'q'));
    writeFileSync(file('lock'), JSON.stringify({ pid: deadPid(), host: hostname() }));
    // What a process killed in the middle of taking over leaves: the marker that makes takeovers one at a time.
    writeFileSync(file('lock.steal'), JSON.stringify({ pid: deadPid(), host: hostname() }));
    expect(await codeOf(open({ lockTimeoutMs: 1000 }))).toBe('resolved');
    expect(readdirSync(join(dir, 'q')).filter((name) => name.startsWith('lock') && !name.endsWith('.own'))).toEqual([]);
  });

  it('a takeover marker a power cut left unreadable counts as abandoned once older than staleMs', async () => {
    mkdirSync(join(dir, 'q'));
    writeFileSync(file('lock'), JSON.stringify({ pid: deadPid(), host: hostname() }));
    writeFileSync(file('lock.steal'), '');
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('ERR_LOCKED');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(file('lock.steal'), minuteAgo, minuteAgo);
    expect(await codeOf(open({ lockTimeoutMs: 1000 }))).toBe('resolved');
  });

  it('a lock file a power cut left empty is taken over once older than staleMs', async () => {
    mkdirSync(join(dir, 'q'));
    writeFileSync(file('lock'), '');
    const error = await open({ lockTimeoutMs: 0 }).catch((e: unknown) => e);
    expect((error as SluiceError).code).toBe('ERR_LOCKED');
    expect((error as SluiceError).message).toContain('cannot be read');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(file('lock'), minuteAgo, minuteAgo);
    expect(await codeOf(open({ lockTimeoutMs: 0 }))).toBe('resolved');
    expect(existsSync(file('lock'))).toBe(false);
  });
});

describe('FileQueueStorage.watch()', () => {
  it('calls the listener after another handle\'s commit, not after its own', async () => {
    const a = await open();
    const b = await open();
    let calls = 0;
    const called = deferred();
    const stop = a.watch!(() => {
      calls++;
      called.resolve();
    });
    // A second watcher of the same file, made after a's: once it has heard of a change, a's has too.
    const heard = (() => {
      let next = deferred();
      const watcher = watch(file('commits'), () => next.resolve());
      return {
        change: async () => {
          await next.promise;
          next = deferred();
          await new Promise((resolve) => setImmediate(resolve));
        },
        close: () => watcher.close(),
      };
    })();
    try {
      const token = (await a.commit((await a.load()).token, relaxed({ meta: bytes(1) })))!;
      await heard.change();
      expect(calls).toBe(0);
      await b.commit(token, relaxed({ meta: bytes(2) }));
      await called.promise;
      expect(calls).toBe(1);
    } finally {
      heard.close();
      stop();
    }
  });
});

describe('FileQueueStorage.isGone()', () => {
  it('is true only for a dead process on this host', async () => {
    const s = await open();
    expect(s.owner).toMatch(new RegExp(`^${hostname()}:${process.pid}:`));
    expect(s.isGone!(s.owner!)).toBe(false);
    expect(s.isGone!(`${hostname()}:${deadPid()}::abc`)).toBe(true);
    expect(s.isGone!(`elsewhere.example:${deadPid()}::abc`)).toBe(false);
    expect(s.isGone!('an owner some other store named')).toBe(false);
  });

  it.runIf(existsSync(BOOT_ID))('is true for a pid from before the last boot, even one in use now', async () => {
    const s = await open();
    expect(s.isGone!(`${hostname()}:${process.pid}:${readFileSync(BOOT_ID, 'utf8').trim()}:abc`)).toBe(false);
    expect(s.isGone!(`${hostname()}:${process.pid}:00000000-0000-0000-0000-000000000000:abc`)).toBe(true);
  });
});
