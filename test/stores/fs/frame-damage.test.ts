import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueStorage, Store } from '../../../src/core/store.js';
import { Queue, type CorruptDetail } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A FileStore on `dir` that remembers the largest read asked of it. */
function watched(dir: string): { store: Store; largest: () => number } {
  const inner = new FileStore({ dir });
  let largest = 0;
  return {
    largest: () => largest,
    store: {
      async open(name: string): Promise<QueueStorage> {
        const storage = await inner.open(name);
        const read = storage.read.bind(storage);
        storage.read = (segment, start, end) => {
          largest = Math.max(largest, end - start);
          return read(segment, start, end);
        };
        return storage;
      },
    },
  };
}

/**
 * Queue 'q' with six items pushed one by one ('"item-0"'…, 8 bytes each: a frame is 16 bytes), `segmentItems` to a
 * segment; then the length word of item `which`'s frame in the first segment set to `length` (flags kept).
 */
async function damaged(segmentItems: number, which: number, length: (after: number) => number): Promise<{ dir: string; size: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-frame-'));
  dirs.push(dir);
  const q = await Queue.open<string>({ name: 'q', store: new FileStore({ dir }), segmentItems });
  for (let i = 0; i < 6; i++) await q.push(`item-${i}`);
  await q.close();
  const file = join(dir, 'q', readdirSync(join(dir, 'q')).filter((n) => n.endsWith('.seg')).sort()[0]!);
  const bytes = readFileSync(file);
  const at = which * 16;
  bytes.writeUInt32LE(((bytes.readUInt32LE(at) & 0x8000_0000) | length(bytes.length - at - 8)) >>> 0, at);
  writeFileSync(file, bytes);
  return { dir, size: statSync(file).size };
}

async function open(dir: string, corruption: 'throw' | 'skip', segmentItems: number) {
  const { store, largest } = watched(dir);
  const corrupt: CorruptDetail[] = [];
  const q = await Queue.open<string>({ name: 'q', store, segmentItems, corruption });
  q.addEventListener('corrupt', (e) => corrupt.push(e.detail));
  return { q, recovered: () => q.recovered, corrupt, largest };
}

// A length word damaged in place (a bit flip, a bad sector) makes the frame claim more bytes than the segment holds, as
// a torn write's last frame does. The items after it were committed: cutting them as a torn write drops acknowledged
// pushes with no word of loss.
describe('a frame whose length word is damaged', () => {
  const lengths: [string, (after: number) => number][] = [
    ['to the largest length (2^31 - 1)', () => 0x7fff_ffff],
    ['to just past the end of the segment (less than maxItemBytes)', (after) => after + 1],
    ['to maxItemBytes exactly', () => 1 << 20],
  ];

  for (const [label, length] of lengths) {
    it(`${label}, in the tail, with items after it: ERR_CORRUPT, or with 'skip' the cut reported as corruption`, async () => {
      const { dir, size } = await damaged(100, 2, length);
      await expect(open(dir, 'throw', 100)).rejects.toMatchObject({ code: 'ERR_CORRUPT', message: expect.stringMatching(/Segment 0 .* at byte 32, and valid data follows/) });
      const { q, recovered, largest } = await open(dir, 'skip', 100);
      expect((await q.list()).map((e) => e.value)).toEqual(['item-0', 'item-1']);
      expect(recovered()[0]).toMatchObject({ kind: 'tail', segment: 0, offset: 32, bytes: 64, corrupt: true });
      // Nothing read is sized by the damaged word: only what the files hold.
      expect(largest()).toBeLessThanOrEqual(size);
      await q.push('after');
      expect((await q.list()).map((e) => e.value)).toEqual(['item-0', 'item-1', 'after']);
      await q.close();
    });

    it(`${label}, in a sealed segment: the items past it are reported lost ('corrupt'), the rest delivered`, async () => {
      const { dir, size } = await damaged(3, 1, length);
      const strict = await open(dir, 'throw', 3);
      await expect(strict.q.take(10)).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
      expect(strict.corrupt).toEqual([expect.objectContaining({ segment: 0, offset: 16, lost: ['1', '2'], reason: 'checksum' })]);
      await strict.q.close();
      const { q, corrupt, largest } = await open(dir, 'skip', 3);
      expect((await q.list()).map((e) => e.value)).toEqual(['item-0', 'item-3', 'item-4', 'item-5']);
      expect(corrupt).toEqual([expect.objectContaining({ lost: ['1', '2'], action: 'skip' })]);
      expect(largest()).toBeLessThanOrEqual(size);
      await q.close();
    });
  }

  it('in the last frame of the tail, with nothing after it: cut as a torn write, its item lost (the close recorded it)', async () => {
    const { dir } = await damaged(100, 5, () => 0x7fff_ffff);
    await expect(open(dir, 'throw', 100)).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    const { q, recovered, corrupt } = await open(dir, 'skip', 100);
    expect((await q.list()).map((e) => e.value)).toEqual(['item-0', 'item-1', 'item-2', 'item-3', 'item-4']);
    expect(recovered()[0]).toMatchObject({ kind: 'tail', offset: 80, bytes: 16, corrupt: false });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(corrupt.map((d) => d.lost)).toEqual([['5']]);
    await q.close();
  });
});

/** The first frame of `bytes` (length word, checksum, payload). */
const firstFrame = (bytes: Buffer) => bytes.subarray(0, 8 + (bytes.readUInt32LE(0) & 0x7fff_ffff));

describe('whole frames where they do not belong (a block written twice, a copy of the file\'s start)', () => {
  it('a sealed segment with a frame past its numbers: every item comes under its own id, none under the next segment\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-frame-'));
    dirs.push(dir);
    const q = await Queue.open<string>({ name: 'q', store: new FileStore({ dir }), segmentItems: 3 });
    for (let i = 0; i < 6; i++) await q.push(`item-${i}`);
    await q.close();
    const file = join(dir, 'q', readdirSync(join(dir, 'q')).filter((n) => n.endsWith('.seg')).sort()[0]!);
    const bytes = readFileSync(file);
    writeFileSync(file, Buffer.concat([bytes, firstFrame(bytes)]));
    for (const corruption of ['throw', 'skip'] as const) {
      const { q: again } = await open(dir, corruption, 3);
      const lease = await again.take(10);
      expect(lease!.entries.map((e) => [e.id, e.value])).toEqual([0, 1, 2, 3, 4, 5].map((i) => [String(i), `item-${i}`]));
      await lease!.release();
      await again.close();
    }
  });

  it('a checkpoint frame where a record of `meta` belongs: said as damage to `meta`, never a TypeError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-frame-'));
    dirs.push(dir);
    const q = await Queue.open<string>({ name: 'q', store: new FileStore({ dir }), segmentItems: 3 });
    for (let i = 0; i < 4; i++) await q.push(`item-${i}`);
    await (await q.take(1))!.ack();
    await q.close();
    const meta = join(dir, 'q', 'meta');
    const bytes = readFileSync(meta);
    writeFileSync(meta, Buffer.concat([bytes, firstFrame(bytes)]));
    const { q: again, recovered } = await open(dir, 'throw', 3);
    expect(recovered().map((r) => r.kind)).toContain('meta-damaged');
    const lease = await again.take(10);
    // The ack before the damage holds; only what the damaged records could have said is in doubt.
    expect(lease!.entries.map((e) => e.value)).toEqual(['item-1', 'item-2', 'item-3']);
    await again.close();
  });
});

describe('a frame whose payload is damaged', () => {
  it("in the tail, with items after it: with 'skip', what is cut there is said lost to that checksum, at that byte", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-frame-'));
    dirs.push(dir);
    const q = await Queue.open<string>({ name: 'q', store: new FileStore({ dir }) });
    for (let i = 0; i < 6; i++) await q.push(`item-${i}`);
    await q.close();
    const file = join(dir, 'q', readdirSync(join(dir, 'q')).filter((n) => n.endsWith('.seg')).sort()[0]!);
    const bytes = readFileSync(file);
    bytes[2 * 16 + 8 + 3]! ^= 0xff;
    writeFileSync(file, bytes);
    const { q: again, corrupt } = await open(dir, 'skip', 100);
    expect((await again.list()).map((e) => e.value)).toEqual(['item-0', 'item-1']);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(corrupt).toEqual([expect.objectContaining({ segment: 0, offset: 32, lost: ['2', '3', '4', '5'], action: 'skip', reason: 'checksum' })]);
    await again.close();
  });
});

describe('damage a sealed segment cannot be read past', () => {
  // Before, the two read as one bad frame (no valid frame between them): id 1 was said lost, and ids 2 to 6 came with
  // the values of items 3 to 7.
  it("two bad frames in a row, the first's length word flipped to end where the third begins: the rest lost, never an item under another's id", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-frame-'));
    dirs.push(dir);
    // Items of one size: 56 bytes of JSON each, a frame of 64, so bit 6 of a length word moves its end by one frame.
    const values = Array.from({ length: 12 }, (_, i) => `item-${String(i).padStart(2, '0')}-`.padEnd(54, 'x'));
    const q = await Queue.open<string>({ name: 'q', store: new FileStore({ dir }), segmentItems: 8 });
    for (const value of values) await q.push(value);
    await q.close();
    const file = join(dir, 'q', readdirSync(join(dir, 'q')).filter((n) => n.endsWith('.seg')).sort()[0]!);
    const bytes = readFileSync(file);
    expect(bytes.readUInt32LE(64) & 0x7fff_ffff).toBe(56);
    bytes[64]! ^= 0x40;
    bytes[128 + 8 + 10]! ^= 0x01;
    writeFileSync(file, bytes);
    const { q: again, corrupt } = await open(dir, 'skip', 8);
    const listed = await again.list();
    expect(listed.map((e) => [e.id, e.value])).toEqual([0, 8, 9, 10, 11].map((i) => [String(i), values[i]]));
    expect(corrupt).toEqual([expect.objectContaining({ segment: 0, offset: 64, lost: ['1', '2', '3', '4', '5', '6', '7'], reason: 'checksum' })]);
    await again.close();
  });

  // Before, each offset of the bad frame was checked for a frame start, each over the length it read there: binary
  // payloads hold plausible lengths at many offsets, and one flipped bit in a 1 MiB item held the first take 50-70 s.
  it('a flipped bit in a large binary item: settles at once, the item lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-frame-'));
    dirs.push(dir);
    const codec = { encode: (value: Uint8Array) => value, decode: (bytes: Uint8Array) => bytes.slice() };
    const payload = new Uint8Array(1 << 20);
    const words = new DataView(payload.buffer);
    for (let i = 0; i < payload.length; i += 4) words.setUint32(i, 200_000, true);
    const q = await Queue.open<Uint8Array>({ name: 'bin', store: new FileStore({ dir }), codec, segmentItems: 2 });
    await q.pushMany([payload, new Uint8Array(16)]);
    await q.push(new Uint8Array(4));
    await q.close();
    const file = join(dir, 'bin', readdirSync(join(dir, 'bin')).filter((n) => n.endsWith('.seg')).sort()[0]!);
    const bytes = readFileSync(file);
    bytes[8 + 1000]! ^= 0x01;
    writeFileSync(file, bytes);
    const again = await Queue.open<Uint8Array>({ name: 'bin', store: new FileStore({ dir }), codec, segmentItems: 2, corruption: 'skip' });
    const lease = await again.take(10);
    expect(lease!.entries.map((e) => e.id)).not.toContain('0');
    await lease!.release();
    await again.close();
  }, 30_000);
});
