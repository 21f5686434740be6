import { existsSync, fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore, type FileSync } from '../../../src/fs.js';

/**
 * A disk that keeps only what was synced, as a power cut would: a file's bytes as of its last fsync (and, at
 * random, part of what was written after), a directory's names as of its last fsync. `image` writes that state
 * out, as the machine would find it after restarting.
 */
class SyncedState {
  readonly #files = new Map<number, Uint8Array>();
  readonly #dirs = new Map<string, Map<string, number>>();

  readonly sync: FileSync = {
    fsync: async (fd) => this.#record(fd),
    fdatasync: async (fd) => this.#record(fd),
  };

  #record(fd: number): void {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) {
      const path = readlinkSync(`/proc/self/fd/${fd}`);
      this.#dirs.set(path, new Map(readdirSync(path).map((name) => [name, statSync(join(path, name)).ino])));
    } else {
      // Read through /proc: a descriptor may be open for writing only, and its file linked in under another name
      // (`commits` is made under a temp name).
      this.#files.set(stat.ino, new Uint8Array(readFileSync(`/proc/self/fd/${fd}`)));
    }
  }

  /** Writes under `target` what a power cut now would leave of `dir`. */
  image(dir: string, target: string, random: () => number): void {
    mkdirSync(target, { recursive: true });
    for (const [name, ino] of this.#dirs.get(dir) ?? []) {
      const path = join(dir, name);
      if (this.#dirs.has(path)) {
        this.image(path, join(target, name), random);
        continue;
      }
      const synced = this.#files.get(ino) ?? new Uint8Array(0);
      // Bytes appended since the last sync may have reached the disk, or some of them.
      let bytes = synced;
      if (existsSync(path) && statSync(path).ino === ino) {
        const now = readFileSync(path);
        if (now.length > synced.length && now.subarray(0, synced.length).equals(synced)) {
          bytes = now.subarray(0, synced.length + Math.floor(random() * (now.length - synced.length + 1)));
        }
      }
      writeFileSync(join(target, name), name.startsWith('lock') ? rebooted(bytes) : bytes);
    }
  }
}

/** A lock file's content as the next boot sees it: its holder ran before the reboot. */
function rebooted(bytes: Uint8Array): Uint8Array {
  try {
    const holder = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
    return Buffer.from(JSON.stringify({ ...holder, boot: 'the boot before the cut' }));
  } catch {
    return bytes;
  }
}

// What 'strict' promises: a power cut at any moment keeps every push and ack that had resolved. Simulated by
// keeping only what the store synced, at random moments in the middle of commits (inside its fsync calls).
describe.runIf(existsSync('/proc/self/fd'))('FileStore strict durability under a simulated power cut', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sluice-strict-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('keeps every resolved push and ack, whatever the moment of the cut', async () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const disk = new SyncedState();
    const live = join(root, 'live');
    const pushed = new Set<number>();
    const acked = new Set<number>();
    const acking = new Set<number>();
    const images: { dir: string; pushed: number[]; acked: number[]; acking: number[] }[] = [];
    const cut = () => {
      const dir = join(root, `image-${images.length}`);
      disk.image(root, dir, random);
      images.push({ dir: join(dir, 'live'), pushed: [...pushed], acked: [...acked], acking: [...acking] });
    };
    // Cut at a random fsync, before it returns: the commit it belongs to has not resolved.
    const sync: FileSync = {
      fsync: async (fd) => {
        await disk.sync.fsync(fd);
        if (random() < 0.15) cut();
      },
      fdatasync: async (fd) => {
        await disk.sync.fdatasync(fd);
        if (random() < 0.15) cut();
      },
    };
    const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: live, sync }), durability: 'strict', segmentItems: 7 });
    let next = 0;
    for (let round = 0; round < 40; round++) {
      const k = 1 + Math.floor(random() * 12);
      const values = Array.from({ length: k }, () => next++);
      if (random() < 0.5) await q.pushMany(values).then(() => values.forEach((v) => pushed.add(v)));
      else await Promise.all(values.map((v) => q.push(v).then(() => pushed.add(v))));
      const lease = await q.take(1 + Math.floor(random() * 8));
      if (lease) {
        const ids = lease.entries.filter(() => random() < 0.7);
        ids.forEach((e) => acking.add(e.value));
        await lease.ack(ids.map((e) => e.id));
        ids.forEach((e) => acked.add(e.value));
        await lease.release();
      }
      if (random() < 0.2) cut();
    }
    await q.close();
    expect(images.length).toBeGreaterThan(20);

    for (const image of images) {
      const reopened = await Queue.open<number>({
        name: 'q',
        store: new FileStore({ dir: image.dir, staleMs: 0, lockTimeoutMs: 1000 }),
        durability: 'strict',
        segmentItems: 7,
      });
      const values = (await reopened.list()).map((e) => e.value);
      await reopened.close();
      for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
      const present = new Set(values);
      for (const v of image.pushed) if (!image.acking.includes(v)) expect(present.has(v), `push ${v} resolved before the cut`).toBe(true);
      for (const v of image.acked) expect(present.has(v), `ack of ${v} resolved before the cut`).toBe(false);
    }
  }, 60_000);
});

describe.runIf(existsSync('/proc/self/fd'))('FileStore strict: the commit counter across a power cut', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sluice-strict-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('a strict commit that removes a segment syncs `commits` first, and no other commit syncs it', async () => {
    const commits = join(root, 'q', 'commits');
    // `commits` as of its last fsync: what a power cut leaves of it (its count is never synced on purpose).
    const synced: Buffer[] = [];
    const record = async (fd: number) => {
      if (fstatSync(fd).ino === statSync(commits, { throwIfNoEntry: false })?.ino) synced.push(readFileSync(commits));
    };
    const store = new FileStore({ dir: root, sync: { fsync: record, fdatasync: record } });
    const q = await Queue.open<string>({ name: 'q', store, durability: 'strict' });
    await q.pushMany(['a', 'b', 'c']);
    // A content of `commits` older than the drain, which the disk may still hold when nothing synced it since.
    const older = readFileSync(commits);
    const lease = await q.take(3);
    await lease!.ack();
    // Only the empty segment that holds the queue's floor is left (3: the next id).
    expect(readdirSync(join(root, 'q')).filter((name) => name.endsWith('.seg'))).toEqual(['0000000000000003.seg']);
    await q.close();

    // The power cut: the directory and `meta` are synced; `commits` holds what it held when last synced.
    writeFileSync(commits, synced.at(-1) ?? older);
    const reopened = await Queue.open<string>({ name: 'q', store: new FileStore({ dir: root }), durability: 'strict' });
    expect(await reopened.size()).toBe(0);
    expect(reopened.recovered).toEqual([]);
    await reopened.close();
    // Synced by the drain only: the pushes, the take and the ack before it left `commits` alone.
    expect(synced).toHaveLength(1);
  });
});
