import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CorruptDetail } from '../../../src/core/events.js';
import type { StorageBatch, Store } from '../../../src/core/store.js';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { deferred } from '../../conformance/harness.js';
import { codeOf, tempQueueDir } from './queue-dir.js';

// Files removed, cut or replaced under live handles, outside any commit (an operator, a temp cleaner, a bug): a
// handle notices at its next commit or load, never writes into a file nobody else sees, and makes every handle
// read the directory again.
const { root, file, open } = tempQueueDir('sluice-outside-');
const bytes = (...values: number[]) => Uint8Array.from(values);
const relaxed = (batch: Omit<StorageBatch, 'durability'>): StorageBatch => ({ ...batch, durability: 'relaxed' });
const seg = (id: number) => file(`${String(id).padStart(16, '0')}.seg`);

/** `store`, with each commit 20 ms late: timers run while the Queue waits for it. */
function slowCommits(store: Store): Store {
  return {
    async open(name) {
      const s = await store.open(name);
      return {
        owner: s.owner,
        load: () => s.load(),
        token: () => s.token(),
        read: (segment, start, end) => s.read(segment, start, end),
        commit: async (token, batch) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return s.commit(token, batch);
        },
        close: () => s.close(),
        isGone: (owner) => s.isGone?.(owner) ?? false,
      };
    },
  };
}

describe('the commit counter removed or emptied under live handles', () => {
  it('through the Queue: two handles and a new one agree on one counter, and every resolved push stays', async () => {
    const a = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: root() }) });
    const b = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: root() }) });
    await b.push(0);
    await a.push(1);
    unlinkSync(file('commits'));
    // A handle opened now makes a new counter, which starts again at 0.
    await b.close();
    const c = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: root() }) });
    await c.push(2);
    await a.push(3);
    await c.push(4);
    await a.push(5);
    const lease = await a.take(10);
    expect(lease!.entries.map((e) => e.value)).toEqual([0, 1, 2, 3, 4, 5]);
    // The other handle cannot lease them a second time.
    expect(await c.take(10)).toBeUndefined();
    await lease!.ack();
    await a.close();
    await c.close();
  });

  it('a token from before never matches the counter made again, though it restarts at 0', async () => {
    const a = await open();
    const b = await open();
    const t0 = (await a.load()).token;
    expect((await b.load()).token).toBe(t0);
    await a.commit(t0, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) } }));
    unlinkSync(file('commits'));
    const c = await open();
    const fresh = (await c.load()).token;
    expect(fresh).not.toBe(t0);
    // b's view is from before a's commit: it must not commit on it, whatever the new counter says.
    expect(await b.commit(t0, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(9) } }))).toBeUndefined();
    expect([...readFileSync(seg(0))]).toEqual([1]);
    expect(await a.token()).not.toBe(t0);
  });

  it('damaged with its count still readable (an earlier version writes the count alone), it goes on from that count, never back to 0', async () => {
    const a = await open();
    let { token } = await a.load();
    for (let i = 0; i < 3; i++) token = (await a.commit(token, relaxed({ write: { segment: 0, offset: i, bytes: bytes(i) } })))!;
    const countOf = () => readFileSync(file('commits')).readDoubleLE(0);
    expect(countOf()).toBe(3);
    // An earlier version's commit: the count bumped, the rest left, so the checksum fails. Its handles know the count
    // alone: a counter made again at 0 would come back to a count they hold, and they would commit on a stale view.
    const earlier = readFileSync(file('commits'));
    earlier.writeDoubleLE(4, 0);
    writeFileSync(file('commits'), earlier);
    token = (await a.load()).token;
    expect(await a.commit(token, relaxed({ write: { segment: 0, offset: 3, bytes: bytes(3) } }))).toBeDefined();
    expect(countOf()).toBe(6);
  });

  it('emptied (or damaged), it is made again with a new identity, and no earlier token matches', async () => {
    const a = await open();
    const b = await open();
    const t0 = (await a.load()).token;
    const t1 = (await a.commit(t0, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) } })))!;
    truncateSync(file('commits'), 0);
    expect(await b.commit(t0, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(9) } }))).toBeUndefined();
    expect(await a.commit(t1, relaxed({ write: { segment: 0, offset: 1, bytes: bytes(2) } }))).toBeUndefined();
    writeFileSync(file('commits'), 'garbage that fails the checksum');
    const { token } = await a.load();
    expect(await a.commit(token, relaxed({ write: { segment: 0, offset: 1, bytes: bytes(2) } }))).toBeDefined();
    expect([...readFileSync(seg(0))]).toEqual([1, 2]);
  });

  it('a watcher hears of commits to the counter made again', async () => {
    const a = await open();
    const heard = deferred();
    const stop = a.watch!(() => heard.resolve());
    try {
      unlinkSync(file('commits'));
      const b = await open();
      await b.commit((await b.load()).token, relaxed({ meta: bytes(1) }));
      await heard.promise;
    } finally {
      stop();
    }
  });
});

describe('FileQueueStorage.watch() when the counter becomes unreadable', () => {
  for (const [what, replace] of [
    ['a directory', () => mkdirSync(file('commits'))],
    ['a symbolic link', () => symlinkSync(file('meta'), file('commits'))],
  ] as const) {
    it(`\`commits\` replaced by ${what}: the listener hears of it once, and the next load says ERR_STORAGE`, async () => {
      const a = await open();
      await a.commit((await a.load()).token, relaxed({ meta: bytes(1) }));
      let told = 0;
      const heard = deferred();
      // Thrown from a file system notice or a timer, the error would end the process (vitest reports it).
      const stop = a.watch!(() => {
        told++;
        heard.resolve();
      });
      try {
        unlinkSync(file('commits'));
        replace();
        await heard.promise;
        expect(await codeOf(a.load())).toBe('ERR_STORAGE');
        // A poll later (real time: the poll's timer is the store's own), the listener has not been told again.
        await new Promise((resolve) => setTimeout(resolve, 1200));
        expect(told).toBe(1);
      } finally {
        stop();
      }
    });
  }
});

describe('a segment removed, cut or replaced under a live handle', () => {
  it('emptied: open names the lost items, and with skip a listener added once open resolves hears them', async () => {
    const options = { name: 'q', segmentItems: 4, durability: 'strict' } as const;
    const a = await Queue.open<number>({ ...options, store: new FileStore({ dir: root() }) });
    await a.push(0);
    truncateSync(seg(0), 0);
    const error = await Queue.open<number>({ ...options, store: new FileStore({ dir: root() }) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_CORRUPT' });
    // Open commits the repair after it found the loss, here slowly: the event must still wait for a listener.
    const b = await Queue.open<number>({ ...options, store: slowCommits(new FileStore({ dir: root() })), corruption: 'skip' });
    const heard: unknown[] = [];
    b.addEventListener('corrupt', (event) => heard.push(event.detail));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heard).toEqual([{ queue: 'q', segment: 0, offset: 0, lost: ['0', '1'], action: 'skip', reason: 'missing' }]);
    await b.close();
    await a.close().catch(() => undefined);
  });

  /** A live handle on queue "q" (segments of 4) holding items 0 to 2, the losses it is told, and `open` for another. */
  const liveWithThree = async () => {
    const open = (corruption: 'throw' | 'skip' = 'throw') => Queue.open<number>({ name: 'q', segmentItems: 4, store: new FileStore({ dir: root() }), corruption });
    const a = await open();
    await a.pushMany([0, 1, 2]);
    const heard: unknown[] = [];
    a.addEventListener('corrupt', (event) => heard.push(event.detail));
    return { a, heard, open };
  };

  it("cut under a live handle with corruption 'throw', past what another's repair can count: every call rejects ERR_CORRUPT, and the loss is told once", async () => {
    const { a, heard, open } = await liveWithThree();
    // Its first item and a few bytes of the next: pushes record no length, so only a knows that 3 items were there.
    truncateSync(seg(0), Math.floor(statSync(seg(0)).size / 2));
    // Another handle's commit, so that a's next call reads the queue again.
    await (await open('skip')).close();
    for (let call = 0; call < 3; call++) await expect(a.push(9)).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heard).toEqual([expect.objectContaining({ lost: ['2'], action: 'throw' })]);
    await a.close().catch(() => undefined);
  });

  it('emptied under a live handle, and repaired by another: the live handle goes on past the numbers made void, naming none lost', async () => {
    const { a, heard, open } = await liveWithThree();
    truncateSync(seg(0), 0);
    const b = await open('skip');
    const told: CorruptDetail[] = [];
    b.addEventListener('corrupt', (event) => told.push(event.detail));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await b.close();
    // Every item the cut took (and one more that the count of the bytes allows for: no push records a length).
    expect(told.flatMap((d) => d.lost)).toEqual(['0', '1', '2', '3']);
    // Before, a took the segment it had cached for cut under it once more, and named ids 4 to 7, never given, as lost.
    expect([await a.push(9), await a.push(10)]).toEqual(['4', '5']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heard).toEqual([]);
    await a.close();
  });

  it('removed: the next commit writes nothing into the unlinked file, and every handle reads again', async () => {
    const a = await open();
    const b = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1, 2) } })))!;
    expect((await b.load()).token).toBe(token);
    unlinkSync(seg(0));
    // a keeps segment 0 open: appending to it would resolve a push nobody can read.
    expect(await a.commit(token, relaxed({ write: { segment: 0, offset: 2, bytes: bytes(3) } }))).toBeUndefined();
    expect(await b.token()).not.toBe(token);
    const snapshot = await a.load();
    expect(snapshot.segments).toEqual([]);
    expect(await a.commit(snapshot.token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(3) } }))).toBeDefined();
    expect([...(await b.read(0, 0, 9))]).toEqual([3]);
  });

  it('cut short: a write past its end is refused rather than leaving a hole of zeros', async () => {
    const a = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1, 2, 3, 4) } })))!;
    truncateSync(seg(0), 2);
    expect(await a.commit(token, relaxed({ write: { segment: 0, offset: 4, bytes: bytes(5) } }))).toBeUndefined();
    expect((await a.load()).segments).toEqual([{ id: 0, length: 2 }]);
    expect([...readFileSync(seg(0))]).toEqual([1, 2]);
  });

  it('replaced: reads and writes reach the file the path names now', async () => {
    const a = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1, 1) } })))!;
    expect([...(await a.read(0, 0, 9))]).toEqual([1, 1]);
    writeFileSync(file('new.seg.tmp'), bytes(7, 7, 7));
    renameSync(file('new.seg.tmp'), seg(0));
    expect([...(await a.read(0, 0, 9))]).toEqual([7, 7, 7]);
    expect(await a.commit(token, relaxed({ write: { segment: 0, offset: 2, bytes: bytes(2) } }))).toBeUndefined();
    token = (await a.load()).token;
    expect(await a.commit(token, relaxed({ write: { segment: 0, offset: 3, bytes: bytes(8) } }))).toBeDefined();
    expect([...readFileSync(seg(0))]).toEqual([7, 7, 7, 8]);
  });

  it('a load that finds what it knew changed makes every other handle\'s token stale', async () => {
    const a = await open();
    const b = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, relaxed({ write: { segment: 0, offset: 0, bytes: bytes(1) } })))!;
    await a.load();
    expect((await b.load()).token).toBe(token);
    unlinkSync(seg(0));
    expect((await a.load()).token).not.toBe(token);
    expect(await b.commit(token, relaxed({ meta: bytes(1) }))).toBeUndefined();
  });
});

describe('the metadata removed or replaced under a live handle', () => {
  it('removed: an append is refused, and every handle sees that there is none', async () => {
    const a = await open();
    const b = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, relaxed({ meta: bytes(1, 2) })))!;
    expect((await b.load()).token).toBe(token);
    unlinkSync(file('meta'));
    expect(await a.commit(token, relaxed({ metaAppend: { offset: 2, bytes: bytes(3) } }))).toBeUndefined();
    expect(await b.token()).not.toBe(token);
    expect((await b.load()).meta).toBeUndefined();
  });

  it('replaced: an append is refused instead of going into the file that was renamed over', async () => {
    const a = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, relaxed({ meta: bytes(1, 2) })))!;
    token = (await a.commit(token, relaxed({ metaAppend: { offset: 2, bytes: bytes(3) } })))!;
    writeFileSync(file('other'), bytes(5, 5, 5));
    renameSync(file('other'), file('meta'));
    expect(await a.commit(token, relaxed({ metaAppend: { offset: 3, bytes: bytes(4) } }))).toBeUndefined();
    expect([...(await a.load()).meta!]).toEqual([5, 5, 5]);
  });

  it('removed under a handle that then replaces it whole: every other handle reads again first', async () => {
    const a = await open();
    const b = await open();
    let token = (await a.load()).token;
    token = (await a.commit(token, relaxed({ meta: bytes(1) })))!;
    await b.load();
    unlinkSync(file('meta'));
    expect(await a.commit(token, relaxed({ meta: bytes(2) }))).toBeUndefined();
    expect(await b.token()).not.toBe(token);
  });
});

describe('the metadata of a drained queue removed (nothing else holds how far its numbers went)', () => {
  /** A queue drained by a live handle, with its metadata then removed: the handle, and the ids it was given. */
  async function drained(partitions: number) {
    const a = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }), partitions });
    const old = await a.pushMany(['old0', 'old1', 'old2']);
    await (await a.take(3))!.ack();
    unlinkSync(file('meta'));
    return { a, old };
  }

  it('numbers go on where they were: a stale remove of an id given before takes no new item', async () => {
    const { a, old } = await drained(1);
    const b = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }) });
    expect(b.recovered).toMatchObject([{ kind: 'meta-missing' }]);
    const ids = await b.pushMany(['new0', 'new1']);
    expect(ids.some((id) => old.includes(id))).toBe(false);
    await a.remove([old[0]!]);
    expect((await b.list()).map((e) => e.value)).toEqual(['new0', 'new1']);
    await a.close();
    await b.close();
  });

  it('and its empty segment with it (a cleaner of old files): the counter\'s record of the newest segment holds the floor', async () => {
    const { a, old } = await drained(1);
    for (const name of readdirSync(file())) if (name.endsWith('.seg')) unlinkSync(file(name));
    const b = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }) });
    // And the floor written again, at the number the counter's record holds.
    expect(b.recovered).toMatchObject([{ kind: 'meta-missing' }, { kind: 'floor' }]);
    const ids = await b.pushMany(['new0', 'new1']);
    expect(ids.some((id) => old.includes(id))).toBe(false);
    await a.remove([old[0]!]);
    await a.push('after');
    expect((await b.list()).map((e) => e.value)).toEqual(['new0', 'new1', 'after']);
    await a.close();
    await b.close();
  });

  it('of a partitioned queue: the live handle goes on, naming none of its acked items lost', async () => {
    const { a } = await drained(4);
    const corrupt: unknown[] = [];
    a.addEventListener('corrupt', (e) => corrupt.push(e.detail));
    await (await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }), partitions: 4 })).close();
    await a.pushMany(['after0', 'after1']);
    expect(corrupt).toEqual([]);
    await a.close();
    const again = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }), partitions: 4 });
    expect((await again.peek(10)).sort()).toEqual(['after0', 'after1']);
    await again.close();
  });
});

describe('the directory put back as a backup had it, under a live handle', () => {
  /** Copies the queue's data files (its meta, counter and segments), or puts those of `from` back, removing the newer. */
  const dataFiles = (dir: string) => readdirSync(dir).filter((name) => name === 'meta' || name === 'commits' || name.endsWith('.seg'));
  const copy = (from: string, to: string) => {
    for (const name of dataFiles(to)) if (!existsSync(join(from, name))) unlinkSync(join(to, name));
    for (const name of dataFiles(from)) copyFileSync(join(from, name), join(to, name));
  };

  it("does not let a lease taken before ack the items pushed since under the same ids: they are another handle's", async () => {
    const backup = join(root(), 'backup');
    mkdirSync(backup);
    const a = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }) });
    await a.pushMany(['a0', 'a1', 'a2']);
    copy(file(), backup);
    await a.pushMany(['a3', 'a4']);
    const lease = await a.take(5);
    expect(lease!.entries.map((e) => e.id)).toEqual(['0', '1', '2', '3', '4']);
    // The backup comes back: the take and a3, a4 never were, and ids 3 and 4 are free again.
    copy(backup, file());
    const b = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }) });
    expect(await b.pushMany(['b3', 'b4'])).toEqual(['3', '4']);
    await expect(lease!.ack()).rejects.toMatchObject({ code: 'ERR_LEASE_EXPIRED', message: expect.stringMatching(/earlier state/) });
    // Nothing was acked: b3 and b4, which nobody was given, are there, and so are a0-a2, which the backup brought back.
    expect((await b.list()).map((e) => e.value)).toEqual(['a0', 'a1', 'a2', 'b3', 'b4']);
    await a.close();
    await b.close();
  });

  it('still acks what the lease took when its hold is gone but the items are the same (expired, not taken since)', async () => {
    const a = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root() }), leaseMs: 50 });
    await a.pushMany(['x', 'y']);
    const lease = await a.take(2);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await lease!.ack();
    expect(await a.size()).toBe(0);
    await a.close();
  });
});
