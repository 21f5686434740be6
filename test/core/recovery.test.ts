import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import type { CorruptDetail, RecoverDetail } from '../../src/core/events.js';
import { FileStore } from '../../src/stores/fs/file-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Items of about 160 bytes: a lost byte counted as a possible item of its own would name some 20 ids per item. */
const item = (n: number) => ({ n, pad: 'x'.repeat(150) });

/**
 * A FileStore queue of `count` items pushed five at a time (segments of `segmentItems`), the first `acked` of them
 * acked; closed unless `close` is false (a writer that died). Returns the queue directory and its segment files.
 */
async function stored(count: number, segmentItems: number, acked = 0, close = true) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-recovery-'));
  dirs.push(dir);
  const q = await Queue.open({ name: 'q', store: new FileStore({ dir }), segmentItems });
  for (let i = 0; i < count; i += 5) await q.pushMany(Array.from({ length: Math.min(5, count - i) }, (_, k) => item(i + k)));
  if (acked > 0) await (await q.take(acked))!.ack();
  if (close) await q.close();
  const segments = readdirSync(join(dir, 'q'))
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => join(dir, 'q', f));
  return { dir, segments };
}

/** Opens the queue again with corruption 'skip': the ids its 'corrupt' events name, and the ids still there. */
async function reopen(dir: string, segmentItems: number) {
  const q = await Queue.open({ name: 'q', store: new FileStore({ dir }), segmentItems, corruption: 'skip' });
  const corrupt: CorruptDetail[] = [];
  q.addEventListener('corrupt', (e) => corrupt.push(e.detail));
  await new Promise((resolve) => setTimeout(resolve, 0));
  const left = (await q.list({ limit: 1000 })).map((e) => Number(e.id));
  await q.close();
  return { lost: corrupt.flatMap((d) => d.lost.map(Number)), left };
}

/** Opens the queue again with corruption 'skip': the ids its 'rollback' repairs made void, as `[from, to)` pairs. */
async function voided(dir: string, segmentItems: number) {
  const q = await Queue.open({ name: 'q', store: new FileStore({ dir }), segmentItems, corruption: 'skip' });
  const recovered: RecoverDetail[] = [];
  q.addEventListener('recover', (e) => recovered.push(e.detail));
  await new Promise((resolve) => setTimeout(resolve, 0));
  await q.close();
  return recovered.filter((d) => d.kind === 'rollback').map((d) => [Number(d.from), Number(d.to)]);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("repairPlan: the 'corrupt' event names the items a lost tail held", () => {
  it('every segment of a closed queue of 10 items removed: ids 0 to 9, not one per 8 bytes (243 before)', async () => {
    const { dir, segments } = await stored(10, 1000);
    for (const file of segments) rmSync(file);
    expect(await reopen(dir, 1000)).toEqual({ lost: range(0, 10), left: [] });
  });

  it('the tail of three segments removed: its 5 items; acked ones not named', async () => {
    const { dir, segments } = await stored(25, 10, 12);
    rmSync(segments.at(-1)!);
    expect(await reopen(dir, 10)).toEqual({ lost: range(20, 25), left: range(12, 20) });
  });

  it('a middle segment removed: exactly its items', async () => {
    const { dir, segments } = await stored(25, 10);
    rmSync(segments[1]!);
    expect(await reopen(dir, 10)).toEqual({ lost: range(10, 20), left: [...range(0, 10), ...range(20, 25)] });
  });

  it('the tail cut in the middle of a frame: every item of the cut pushMany, none fewer', async () => {
    const { dir, segments } = await stored(25, 10);
    const tail = segments.at(-1)!;
    truncateSync(tail, Math.floor(statSync(tail).size / 2));
    expect(await reopen(dir, 10)).toEqual({ lost: range(20, 25), left: range(0, 20) });
  });

  it('the tail overwritten with garbage from its middle: the items that were there', async () => {
    const { dir, segments } = await stored(10, 1000);
    const bytes = readFileSync(segments[0]!);
    for (let i = bytes.length / 2; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    writeFileSync(segments[0]!, bytes);
    expect(await reopen(dir, 1000)).toEqual({ lost: range(5, 10), left: range(0, 5) });
  });

  it("a closed queue's segment damaged at its first item: the ids void are those given out, not one per 8 bytes (0 to 58 before)", async () => {
    const { dir, segments } = await stored(10, 1000);
    const bytes = readFileSync(segments[0]!);
    bytes[30] = bytes[30]! ^ 0xff;
    writeFileSync(segments[0]!, bytes);
    expect(await voided(dir, 1000)).toEqual([[0, 10]]);
  });

  it('a writer that died after pushes nothing recorded: at most one id per 8 lost bytes of those pushes, never fewer', async () => {
    const { dir, segments } = await stored(10, 1000, 0, false);
    const bytes = statSync(segments[0]!).size;
    rmSync(segments[0]!);
    const { lost, left } = await reopen(dir, 1000);
    expect(left).toEqual([]);
    expect(lost).toEqual(range(0, Math.ceil(bytes / 8)));
  });
});

/**
 * The repair of an open after damage, then the metadata removed too: the end of the ids the repair made void, and
 * the id the next push gets.
 */
async function nextIdAfterMetaLost(dir: string, segmentItems: number) {
  const [[, to] = [0, 0]] = await voided(dir, segmentItems);
  rmSync(join(dir, 'q', 'meta'));
  const q = await Queue.open({ name: 'q', store: new FileStore({ dir }), segmentItems, corruption: 'skip' });
  const id = Number(await q.push(item(-1)));
  await q.close();
  return { voidedTo: to, id };
}

describe('numbers a repair made void are never given out again, even once the metadata is lost too', () => {
  // Before, the segments ended where the cut left them, and metadata rebuilt from them started the numbers there.
  it('the newest segment cut to nothing: the next push gets 10, not 5', async () => {
    const { dir, segments } = await stored(10, 5);
    truncateSync(segments.at(-1)!, 3);
    expect(await nextIdAfterMetaLost(dir, 5)).toEqual({ voidedTo: 10, id: 10 });
    expect(readdirSync(join(dir, 'q')).filter((f) => f.endsWith('.seg'))).toEqual(['0000000000000000.seg', '0000000000000010.seg']);
  });

  it('the newest segment cut in its middle: the first id past those made void, not 5', async () => {
    const { dir, segments } = await stored(10, 1000);
    const tail = segments.at(-1)!;
    truncateSync(tail, Math.floor(statSync(tail).size * 0.7));
    const { voidedTo, id } = await nextIdAfterMetaLost(dir, 1000);
    expect(voidedTo).toBeGreaterThanOrEqual(10);
    expect(id).toBe(voidedTo);
  });

  it('every segment removed: 10', async () => {
    const { dir, segments } = await stored(10, 5);
    for (const file of segments) rmSync(file);
    expect(await nextIdAfterMetaLost(dir, 5)).toEqual({ voidedTo: 10, id: 10 });
  });
});

describe("the floor of a drained queue removed under it, its metadata kept", () => {
  // Before, it was written again without a word: a read-only open (the CLI's) changed the queue and said nothing.
  it("is written again at the next id, and told ('floor'); the next push gets that id", async () => {
    const { dir, segments } = await stored(10, 5, 10);
    expect(segments.map((f) => f.slice(-20))).toEqual(['0000000000000010.seg']);
    rmSync(segments[0]!);
    const q = await Queue.open({ name: 'q', store: new FileStore({ dir }), segmentItems: 5 });
    const recovered: RecoverDetail[] = [];
    q.addEventListener('recover', (e) => recovered.push(e.detail));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(recovered).toEqual([{ queue: 'q', kind: 'floor', segment: 10 }]);
    expect(readdirSync(join(dir, 'q')).filter((f) => f.endsWith('.seg'))).toEqual(['0000000000000010.seg']);
    expect(await q.push(item(10))).toBe('10');
    await q.close();
  });
});

describe('a close after pushes', () => {
  it('resolves when the record of how far the queue grew cannot be written (its directory removed under it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-close-'));
    const q = await Queue.open({ name: 'q', store: new FileStore({ dir }) });
    await q.pushMany([1, 2, 3]);
    await q.pushMany([4, 5]);
    // Moved away at once, then removed: a spare segment file the store makes in the background could land in it
    // while `rmSync` walked it (ENOTEMPTY).
    const gone = `${dir}.gone`;
    renameSync(dir, gone);
    try {
      await expect(q.close()).resolves.toBeUndefined();
    } finally {
      rmSync(gone, { recursive: true, force: true });
    }
  });
});
