import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { FileStore } from '../../src/fs.js';
import { main } from '../../src/platform/cli.js';
import { USAGE } from '../../src/platform/cli/args.js';
import { queueNames } from '../../src/platform/cli/layout.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { hash } from '../../src/core/partitioned.js';
import { FakeClock } from '../support/fake-clock.js';
import { outboxQueue } from '../support/outbox-queue.js';

let dir: string;
let out: string[];
let err: string[];
let drawn: string[];
const io = {
  out: (line: string) => void out.push(line),
  err: (line: string) => void err.push(line),
  progress: { isTTY: false as boolean, columns: 80, write: (text: string) => void drawn.push(text) },
};
const run = (...args: string[]) => main([...args, '--dir', dir], io);
const json = () => out.map((line) => JSON.parse(line) as Record<string, unknown>);
const store = () => new FileStore({ dir });

/** Every file under `root`, relative, sorted: what a command must leave as it was. */
function tree(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).sort();
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  out = [];
  err = [];
  drawn = [];
  io.progress.isTTY = false;
  const q = await Queue.open<{ n: number }>({ name: 'jobs', store: store() });
  await q.pushMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  await q.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An outbox "api" with two dead letters, one with the task id "order-42". */
async function deadLetters(): Promise<void> {
  const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
  await outbox.enqueueMany([{ url: 'https://api.example.test/a', body: { a: 1 } }, { url: 'https://api.example.test/b', id: 'order-42' }]);
  await outbox.flush();
  await outbox.close();
}

describe('sluice ls, stats', () => {
  it('ls shows every queue with its kind, counts and oldest age; --json gives one object per line', async () => {
    await deadLetters();
    expect(await run('ls')).toBe(0);
    expect(out[0]).toMatch(/^queue\s+kind\s+size\s+leased\s+delayed\s+segments\s+bytes\s+oldest$/);
    expect(out.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 3))).toEqual([
      ['api', 'outbox', '0'],
      ['api.dead', 'dead-letters', '2'],
      ['jobs', 'queue', '3'],
    ]);
    out = [];
    expect(await run('ls', '--json')).toBe(0);
    expect(json().map((q) => [q['queue'], q['kind'], q['size']])).toEqual([
      ['api', 'outbox', 0],
      ['api.dead', 'dead-letters', 2],
      ['jobs', 'queue', 3],
    ]);
  });

  it('a partitioned queue is listed once, with all its items, and opened with the partitions it was made with', async () => {
    const q = await Queue.open<number>({ name: 'parts', store: store(), partitions: 3 });
    await q.pushMany([1, 2]);
    await q.pushMany([3]);
    await (await q.take(1))!.release();
    await q.close();
    expect(readdirSync(dir).sort()).toEqual(['jobs', 'parts', 'parts.p1', 'parts.p2', 'parts.pm']);
    expect(queueNames(dir)).toEqual(['jobs', 'parts']);
    expect(await run('ls', '--json')).toBe(0);
    expect(json().map((q) => [q['queue'], q['size']])).toEqual([
      ['jobs', 3],
      ['parts', 3],
    ]);
    out = [];
    expect(await run('peek', 'parts', '--json')).toBe(0);
    expect(json().map((e) => e['value']).sort()).toEqual([1, 2, 3]);
    // Still a queue of 3 partitions: an app opening it as made finds every item.
    const again = await Queue.open<number>({ name: 'parts', store: store(), partitions: 3 });
    expect(await again.size()).toBe(3);
    await again.close();
  });

  it("a partitioned queue whose first partition lost its metadata (removed, damaged) is opened with the count the others record", async () => {
    const q = await Queue.open<number>({ name: 'parts', store: store(), partitions: 4 });
    // Pushed one by one, in turn: two in each partition, the first included, wherever the turn starts.
    for (let i = 1; i <= 8; i++) await q.push(i);
    await q.close();
    const live = await Queue.open<number>({ name: 'parts', store: store(), partitions: 4 });
    for (const damage of [() => rmSync(join(dir, 'parts', 'meta')), () => writeFileSync(join(dir, 'parts', 'meta'), 'garbage')]) {
      damage();
      out = [];
      err = [];
      expect(await run('stats', 'parts', '--json')).toBe(3);
      expect(json()[0]).toMatchObject({ size: 8 });
      expect(err.join('\n')).toMatch(/"recover"/);
    }
    // The count stands: the live handle of 4 partitions goes on.
    await live.push(9);
    expect(await live.size()).toBe(9);
    await live.close();
  });

  it('stats gives size, leased, delayed, segments, bytes and the oldest item\'s age', async () => {
    const holder = await Queue.open<{ n: number }>({ name: 'jobs', store: store() });
    await holder.take(1);
    expect(await run('stats', 'jobs', '--json')).toBe(0);
    const [stats] = json();
    expect(stats).toMatchObject({ queue: 'jobs', kind: 'queue', size: 3, leased: 1, delayed: 0, segments: 1 });
    expect(stats!['bytes']).toBeGreaterThan(0);
    // A plain queue's items carry no time: bounds from the times of the segment file holding the oldest.
    const { minMs, maxMs } = stats!['oldest'] as { minMs: number; maxMs: number | null };
    expect(minMs).toBeGreaterThanOrEqual(0);
    if (maxMs !== null) expect(maxMs).toBeGreaterThanOrEqual(minMs);
    await holder.close();
    out = [];
    expect(await run('stats', 'jobs')).toBe(0);
    expect(out.map((line) => line.split(/\s+/)[0])).toEqual(['queue', 'kind', 'size', 'leased', 'delayed', 'segments', 'bytes', 'oldest']);
  });

  it('a segment file copied with its times kept (cp -a) bounds the oldest age from below only', async () => {
    const segment = readdirSync(join(dir, 'jobs')).find((f) => f.endsWith('.seg'))!;
    const hourAgo = (Date.now() - 3_600_000) / 1000;
    // Changed an hour ago, born now: the birth is the copy's.
    utimesSync(join(dir, 'jobs', segment), hourAgo, hourAgo);
    expect(await run('stats', 'jobs', '--json')).toBe(0);
    const { minMs, maxMs } = json()[0]!['oldest'] as { minMs: number; maxMs: number | null };
    expect(minMs).toBeGreaterThanOrEqual(3_590_000);
    expect(maxMs).toBeNull();
    out = [];
    expect(await run('stats', 'jobs')).toBe(0);
    expect(out.at(-1)).toMatch(/^oldest\s+at least 1h 0m$/);
  });

  it('an outbox\'s oldest age is exact: its tasks carry their enqueue time', async () => {
    const outbox = await Outbox.open({ name: 'api', store: store() });
    await outbox.enqueue({ url: 'https://api.example.test/a' });
    await outbox.close();
    const later = Date.now() + 90_000;
    expect(await main(['stats', 'api', '--dir', dir, '--json'], { ...io, now: () => later })).toBe(0);
    const { minMs, maxMs } = json()[0]!['oldest'] as { minMs: number; maxMs: number };
    expect(minMs).toBe(maxMs);
    expect(minMs).toBeGreaterThanOrEqual(90_000);
    expect(minMs).toBeLessThan(100_000);
  });

  it("a partitioned queue's oldest age is its oldest item's, whichever partition holds it", async () => {
    // An outbox's: its oldest task is in the second partition, a newer one in the first.
    const inPartition = (p: number) => Array.from({ length: 100 }, (_, i) => `g${i}`).find((g) => hash(g) % 2 === p)!;
    const clock = new FakeClock();
    const outbox = await Outbox.open({ name: 'api', store: store(), partitions: 2, clock });
    await outbox.enqueue({ url: 'https://api.example.test/old', group: inPartition(1) });
    clock.advance(3_600_000);
    await outbox.enqueue({ url: 'https://api.example.test/new', group: inPartition(0) });
    await outbox.close();
    const later = clock.now() + 60_000;
    expect(await main(['stats', 'api', '--dir', dir, '--json'], { ...io, now: () => later })).toBe(0);
    expect(json()[0]!['oldest']).toEqual({ minMs: 3_660_000, maxMs: 3_660_000 });
    // A plain queue's: bounded by the times of the segment file that holds it, in its own partition.
    const q = await Queue.open<number>({ name: 'parts', store: store(), partitions: 2 });
    const [id] = await q.pushMany([1], { key: inPartition(1) });
    expect(Number(id)).toBeGreaterThanOrEqual(2 ** 40);
    await q.close();
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const file of readdirSync(join(dir, 'parts.p1')).filter((f) => f.endsWith('.seg'))) utimesSync(join(dir, 'parts.p1', file), hourAgo, hourAgo);
    out = [];
    expect(await run('stats', 'parts', '--json')).toBe(0);
    expect((json()[0]!['oldest'] as { minMs: number }).minMs).toBeGreaterThanOrEqual(3_600_000);
  });
});

describe('read-only commands', () => {
  it('ls, peek, stats and dead list create nothing, and leave existing queues as they were', async () => {
    await deadLetters();
    const before = tree(dir);
    for (const args of [['ls'], ['peek', 'jobs'], ['stats', 'jobs'], ['dead', 'api'], ['dead', 'api', 'list']]) {
      expect(await run(...args), args.join(' ')).toBe(0);
    }
    expect(tree(dir)).toEqual(before);
  });

  it('a missing queue or directory is an error (ERR_NOT_FOUND, exit 2) and stays missing', async () => {
    const before = tree(dir);
    for (const args of [['peek', 'nope'], ['stats', 'nope'], ['drain', 'nope'], ['clear', 'nope'], ['dead', 'nope'], ['dead', 'nope', 'purge', '--all']]) {
      err = [];
      expect(await run(...args), args.join(' ')).toBe(2);
      expect(err[0]).toMatch(/^sluice: ERR_NOT_FOUND: There is no queue "nope"/);
    }
    expect(tree(dir)).toEqual(before);
    const missing = join(dir, 'missing');
    for (const args of [['ls'], ['stats', 'jobs']]) {
      err = [];
      expect(await main([...args, '--dir', missing], io)).toBe(2);
      expect(err[0]).toMatch(/^sluice: ERR_NOT_FOUND: The directory .* does not exist/);
    }
    expect(existsSync(missing)).toBe(false);
    // A file where the directory should be: no queue is there either, whichever command looks.
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    for (const args of [['ls'], ['stats', 'jobs']]) {
      err = [];
      expect(await main([...args, '--dir', file], io), args.join(' ')).toBe(2);
      expect(err[0]).toMatch(/^sluice: ERR_NOT_FOUND: /);
    }
  });
});

describe('sluice peek', () => {
  it('shows each entry\'s state as the queue has it: a live lease with its expiry, a lapsed one ready again', async () => {
    const live = await Queue.open<{ n: number }>({ name: 'jobs', store: store() });
    await live.take(1, { leaseMs: 60_000 });
    // A holder whose clock is a minute behind: its 30 s lease lapsed 30 s ago.
    const behind = { now: () => Date.now() - 60_000, setTimeout, clearTimeout };
    const lapsed = await Queue.open<{ n: number }>({ name: 'jobs', store: store(), clock: behind });
    await lapsed.take(1, { leaseMs: 30_000 });
    expect(await run('peek', 'jobs', '--json')).toBe(0);
    const [first, second, third] = json();
    expect(first).toMatchObject({ id: '0', state: 'leased', attempts: 1, value: { n: 1 } });
    expect(first!['availableAt']).toBeGreaterThan(Date.now() + 50_000);
    expect(second).toMatchObject({ id: '1', state: 'ready', attempts: 1, availableAt: 0 });
    expect(third).toMatchObject({ id: '2', state: 'ready', attempts: 0 });
    out = [];
    expect(await run('peek', 'jobs')).toBe(0);
    expect(out[1]).toMatch(/^0\s+leased\s+1\s+in (59|60)s\s+\{"n":1\}$/);
    expect(out[2]).toMatch(/^1\s+ready\s+1\s+-\s+\{"n":2\}$/);
    await Promise.all([live.close(), lapsed.close()]);
  });

  it('shows an outbox\'s task waiting for its notBefore as scheduled, with when it goes', async () => {
    const outbox = await Outbox.open({ name: 'api', store: store() });
    await outbox.enqueue({ url: 'https://api.example.test/later', notBefore: Date.now() + 3_600_000 });
    await outbox.enqueue({ url: 'https://api.example.test/now', notBefore: Date.now() - 1_000 });
    await outbox.close();
    expect(await run('peek', 'api', '--json')).toBe(0);
    const [later, now] = json();
    expect(later).toMatchObject({ state: 'scheduled' });
    expect(later!['availableAt']).toBeGreaterThan(Date.now() + 3_500_000);
    expect(now).toMatchObject({ state: 'ready', availableAt: 0 });
    out = [];
    expect(await run('peek', 'api')).toBe(0);
    expect(out[1]).toMatch(/^\S+\s+scheduled\s+0\s+in (59m|1h)/);
  });

  it('--limit bounds the entries, and the rest is counted', async () => {
    expect(await run('peek', 'jobs', '--limit', '2')).toBe(0);
    expect(out).toHaveLength(4);
    expect(out[3]).toBe('(2 of 3 entries; --limit shows more)');
  });

  it('reads a page, and only once it is written the next: a large --limit holds a page in memory, not the queue', async () => {
    const q = await Queue.open<{ n: number }>({ name: 'jobs', store: store(), partitions: 1 });
    await q.pushMany(Array.from({ length: 2_497 }, (_, n) => ({ n: n + 4 })));
    await q.close();
    // A reader that takes nothing until told to: the lines given before then are one page.
    let read!: () => void;
    let reading = false;
    const slow = { ...io, written: () => new Promise<void>((resolve) => (reading ? resolve() : (read = resolve))) };
    const peeking = main(['peek', 'jobs', '--limit', '2400', '--dir', dir], slow);
    await expect.poll(() => out.length).toBe(1_001);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(out).toHaveLength(1_001);
    read();
    await expect.poll(() => out.length).toBe(2_001);
    read();
    await expect.poll(() => out.length).toBe(2_401);
    reading = true;
    read();
    expect(await peeking).toBe(0);
    // Every entry once, in order; the columns lined up but where ids gain a digit (at 1000, in the second page).
    expect(out.slice(1, 2_401).map((line) => JSON.parse(line.split(/\s{2,}/)[4]!).n)).toEqual(Array.from({ length: 2_400 }, (_, n) => n + 1));
    const columns = out.slice(1, 2_401).map((line) => line.indexOf('{'));
    expect([new Set(columns.slice(0, 1_000)).size, new Set(columns.slice(1_000)).size, columns[1_000]! - columns[0]!]).toEqual([1, 1, 1]);
    expect(out[2_401]).toBe('(2400 of 2500 entries; --limit shows more)');
  });
});

describe('sluice drain, clear', () => {
  it('drain prints entries, then acks them; --limit takes that many', async () => {
    expect(await run('drain', 'jobs', '--limit', '2', '--json')).toBe(0);
    expect(json().map((e) => e['value'])).toEqual([{ n: 1 }, { n: 2 }]);
    out = [];
    expect(await run('drain', 'jobs')).toBe(0);
    expect(out).toEqual(['2  {"n":3}', 'Drained 1 entry from jobs.']);
    const q = await Queue.open({ name: 'jobs', store: store() });
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it('draws a progress bar on a TTY only, and clears it when done', async () => {
    expect(await run('drain', 'jobs', '--limit', '1')).toBe(0);
    expect(drawn).toEqual([]);
    io.progress.isTTY = true;
    expect(await run('drain', 'jobs')).toBe(0);
    expect(drawn[0]).toMatch(/^\rDraining jobs \[#+\] 100% 2\/2$/);
    expect(drawn.at(-1)).toBe('\r\x1b[2K');
  });

  it('clear removes every entry', async () => {
    expect(await run('clear', 'jobs')).toBe(0);
    expect(out).toEqual(['Removed 3 entries from jobs.']);
    out = [];
    expect(await run('clear', 'jobs', '--json')).toBe(0);
    expect(json()).toEqual([{ queue: 'jobs', removed: 0 }]);
  });
});

describe('items that are not JSON (a queue written with a codec of its own)', () => {
  // Each item is 0xff 0xfe and its number: not UTF-8, so not JSON.
  const codec = { encode: (n: number) => new Uint8Array([0xff, 0xfe, n]), decode: (bytes: Uint8Array) => bytes[2]! };
  beforeEach(async () => {
    const q = await Queue.open<number>({ name: 'bin', store: store(), codec });
    await q.pushMany([0, 1, 2]);
    await q.close();
  });

  it('peek shows their bytes as base64, marked as not JSON; --json gives them as "base64" in place of "value"', async () => {
    expect(await run('peek', 'bin')).toBe(0);
    expect(out[1]).toMatch(/^0\s+ready\s+0\s+-\s+\(not JSON, 3 bytes\) base64:\/\/4A$/);
    out = [];
    expect(await run('peek', 'bin', '--json')).toBe(0);
    expect(json()).toEqual([0, 1, 2].map((n) => ({ id: String(n), state: 'ready', attempts: 0, availableAt: 0, base64: Buffer.from([0xff, 0xfe, n]).toString('base64') })));
  });

  it('drain prints the bytes whole before it acks: the app\'s codec reads them back', async () => {
    expect(await run('drain', 'bin', '--json')).toBe(0);
    expect(json().map((e) => codec.decode(Buffer.from(e['base64'] as string, 'base64')))).toEqual([0, 1, 2]);
    out = [];
    expect(await run('ls')).toBe(0);
    expect(out[1]).toMatch(/^bin\s+queue\s+0\s/);
  });

  it('bytes that parse as JSON but are not what the default codec writes (64-bit ids, 10.10) are shown as bytes, never rewritten', async () => {
    const texts = ['{"orderId":9007199254740993,"amount":10.10}', '{"a":1,"a":2}', '{ "spaced": true }', '[1e400]'];
    const raw = { encode: (text: string) => new TextEncoder().encode(text), decode: (bytes: Uint8Array) => new TextDecoder().decode(bytes) };
    const q = await Queue.open<string>({ name: 'like-json', store: store(), codec: raw });
    await q.pushMany([...texts, '{"plain":[1,"two",null]}']);
    await q.close();
    expect(await run('drain', 'like-json', '--json')).toBe(0);
    const lines = json();
    expect(lines.slice(0, 4).map((e) => raw.decode(Buffer.from(e['base64'] as string, 'base64')))).toEqual(texts);
    expect(lines[4]).toEqual({ id: '4', attempts: 1, value: { plain: [1, 'two', null] } });
  });

  it('ls lists the queue', async () => {
    expect(await run('ls', '--json')).toBe(0);
    expect(json().map((q) => [q['queue'], q['size']])).toEqual([
      ['bin', 3],
      ['jobs', 3],
    ]);
  });
});

describe('sluice drain of an outbox whose bodies are kept beside its tasks', () => {
  const photo = () => new Uint8Array(120_000).map((_, i) => (i * 7) % 251);
  const blobFiles = (queue: string) => (existsSync(join(dir, queue, 'blobs')) ? readdirSync(join(dir, queue, 'blobs')) : []);

  it('prints each body whole (base64) beside its task, and leaves the body to the outbox\'s sweep (a dead letter may name it too)', async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 503 }) });
    await outbox.enqueue({ url: 'https://api.example.test/photos', id: 'photo-1', body: new Blob([photo()], { type: 'image/jpeg' }) });
    await outbox.enqueue({ url: 'https://api.example.test/notes', id: 'note-1', body: { small: true } });
    await outbox.close();
    expect(blobFiles('api')).toHaveLength(1);
    expect(await run('drain', 'api', '--json')).toBe(0);
    const [first, second] = json();
    expect(new Uint8Array(Buffer.from(first!['body'] as string, 'base64'))).toEqual(photo());
    expect((first!['value'] as { id: string }).id).toBe('photo-1');
    // A body kept inside its task is in `value` already.
    expect(second).not.toHaveProperty('body');
    expect(blobFiles('api')).toHaveLength(1);
  });

  it('dead --json gives each body in the form it is stored, so that bytes, an object of the same fields, text and a body kept beside read apart', async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
    await outbox.enqueue({ url: 'https://api.example.test/a', id: 'bytes', body: new Uint8Array([104, 105]) });
    await outbox.enqueue({ url: 'https://api.example.test/a', id: 'object', body: { 0: 104, 1: 105 } });
    await outbox.enqueue({ url: 'https://api.example.test/a', id: 'text', body: 'hi' });
    await outbox.enqueue({ url: 'https://api.example.test/a', id: 'blob', body: new Blob(['hi'], { type: 'text/plain' }) });
    await outbox.enqueue({ url: 'https://api.example.test/a', id: 'none', method: 'DELETE' });
    await outbox.flush();
    await outbox.close();
    expect(await run('dead', 'api', '--json')).toBe(0);
    expect(Object.fromEntries(json().map((l) => [(l['task'] as { id: string }).id, (l['task'] as { body?: unknown }).body]))).toEqual({
      bytes: { base64: 'aGk=' },
      object: { json: { 0: 104, 1: 105 } },
      text: { text: 'hi' },
      blob: { blob: { size: 2, type: 'text/plain' } },
      none: undefined,
    });
  });

  it("prints a dead letter's body, kept in the outbox's queue, and says so of one that is gone", async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
    await outbox.enqueue({ url: 'https://api.example.test/photos', id: 'photo-1', body: new Blob([photo()]) });
    await outbox.enqueue({ url: 'https://api.example.test/photos', id: 'photo-2', body: new Blob([photo()]) });
    await outbox.flush();
    await outbox.close();
    const [kept, gone] = blobFiles('api').sort();
    rmSync(join(dir, 'api', 'blobs', gone!));
    expect(await run('drain', 'api.dead')).toBe(0);
    const lines = out.filter((line) => /^\d+ {2}/.test(line));
    expect(lines).toHaveLength(2);
    const printed = lines.map((line) => /body base64:(\S+)$/.exec(line)?.[1]).filter((b) => b !== undefined);
    expect(printed.map((b) => new Uint8Array(Buffer.from(b!, 'base64')))).toEqual([photo()]);
    expect(lines.filter((line) => line.includes('body unreadable: Its body, stored beside it, is no longer all in the store.'))).toHaveLength(1);
    expect(blobFiles('api')).toEqual([kept]);
  });
  it('drains on past an item whose body reference is no stored body (a plain queue named as an outbox), saying so on its line', async () => {
    const q = await Queue.open<object>({ name: 'notes', store: store() });
    await q.pushMany([{ job: 'a' }, { job: 'b', body: { blob: { key: '../b', size: 1, crc: 0 } } }, { job: 'c' }]);
    await q.close();
    const dead = await Queue.open<object>({ ...outboxQueue, name: 'notes.dead', store: store() });
    await dead.close();
    expect(await run('drain', 'notes')).toBe(0);
    const lines = out.filter((line) => /^\d+ {2}/.test(line));
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('body unreadable: ');
    const again = await Queue.open<object>({ ...outboxQueue, name: 'notes', store: store() });
    expect(await again.size()).toBe(0);
    await again.close();
  });
});

describe('sluice dead, with the app\'s options', () => {
  it('retry --ordering fifo places the tasks of a partitioned outbox as the app does: delivered in order, before what came after', async () => {
    const options = { name: 'api', store: store(), ordering: 'fifo' as const, partitions: 4 };
    const failing = await Outbox.open({ ...options, fetch: async () => new Response(null, { status: 400 }) });
    await failing.enqueueMany(Array.from({ length: 8 }, (_, i) => ({ url: 'https://api.example.test/t', id: `d${i}`, group: `g${i}` })));
    await failing.flush();
    await failing.close();
    expect(await run('dead', 'api', 'retry', '--ordering', 'fifo')).toBe(0);
    const sent: string[] = [];
    const app = await Outbox.open({ ...options, fetch: async (input, init) => (sent.push(new Headers(init?.headers).get('idempotency-key')!), new Response(null, { status: 200 })) });
    await app.enqueue({ url: 'https://api.example.test/t', id: 'after' });
    await app.flush();
    await app.close();
    expect(sent).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'after']);
  });

  it('--mode opens a queue shared by a group (mode 660), which the default mode refuses, naming --mode', async () => {
    const shared = await Queue.open<number>({ name: 'team', store: new FileStore({ dir, mode: 0o660 }) });
    await shared.push(1);
    await shared.close();
    expect(await run('stats', 'team')).toBe(1);
    expect(err.join('\n')).toContain('--mode 660');
    expect(err.join('\n')).not.toContain('chmod');
    out = [];
    expect(await run('stats', 'team', '--mode', '660', '--json')).toBe(0);
    expect(json()[0]).toMatchObject({ queue: 'team', size: 1 });
  });

  it('a queue whose directory others may write keeps the advice to take that away (no --mode shares with all)', async () => {
    const shared = await Queue.open<number>({ name: 'team', store: new FileStore({ dir, mode: 0o660 }) });
    await shared.close();
    chmodSync(join(dir, 'team'), 0o777);
    expect(await run('stats', 'team')).toBe(1);
    expect(err.join('\n')).toContain('chmod o-w');
  });

  it('refuses a --mode that is not octal bits, and an --ordering it does not know or where it does not apply', async () => {
    for (const args of [['stats', 'jobs', '--mode', '999'], ['stats', 'jobs', '--mode', 'rw'], ['dead', 'api', '--ordering', 'lifo'], ['stats', 'jobs', '--ordering', 'fifo']]) {
      expect(await run(...args)).toBe(2);
    }
  });

  it('refuses a --mode the FileStore would (execute bits, no owner read and write) in its own words, the mode as typed', async () => {
    for (const mode of ['700', '755', '400', '000']) {
      err = [];
      expect(await run('stats', 'jobs', '--mode', mode)).toBe(2);
      expect(err[0]).toBe(`sluice: ERR_INVALID_OPTION: --mode must give the owner read and write and no one execute (such as 600, 640, 660, 644 or 666), got "${mode}".`);
    }
  });
});

describe('sluice dead', () => {
  it("prints a dead letter's error with its control characters escaped: none reaches the terminal or starts a row", async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => Promise.reject(new TypeError('boom\u001b[2J\rline2\nsluice: forged')), retry: { maxAttempts: 1 } });
    await outbox.enqueue({ url: 'https://api.example.test/a' });
    await outbox.flush();
    await outbox.close();
    expect(await run('dead', 'api')).toBe(0);
    expect(out).toHaveLength(2);
    expect(out[1]).toContain('(boom\\u001b[2J\\u000dline2\\u000asluice: forged)');
  });

  it('lists an outbox\'s dead letters with their task ids, reason, status and attempts', async () => {
    await deadLetters();
    expect(await run('dead', 'api', '--json')).toBe(0);
    expect(json().map((l) => [(l['task'] as { url: string }).url, l['reason'], l['status'], l['attempts']])).toEqual([
      ['https://api.example.test/a', 'status', 400, 1],
      ['https://api.example.test/b', 'status', 400, 1],
    ]);
    out = [];
    expect(await run('dead', 'api')).toBe(0);
    expect(out[0]).toMatch(/^task\s+id\s+reason\s+status\s+attempts\s+died\s+request$/);
    expect(out[2]).toMatch(/^order-42\s+1\s+status\s+400\s+1\s+\S+ ago\s+POST https:\/\/api\.example\.test\/b$/);
  });

  it('retry and purge take task ids as well as entry ids', async () => {
    await deadLetters();
    expect(await run('dead', 'api', 'retry', 'order-42')).toBe(0);
    expect(out).toEqual(['Put 1 task back into api.']);
    out = [];
    expect(await run('dead', 'api', 'purge', '0', '--json')).toBe(0);
    expect(json()).toEqual([{ outbox: 'api', purged: 1 }]);
    const outbox = await Outbox.open({ name: 'api', store: store() });
    expect(await outbox.size()).toBe(1);
    expect(await outbox.dead.size()).toBe(0);
    await outbox.close();
  });

  it("an id that is one letter's task id and another's entry id is refused, naming it, and nothing is retried or purged", async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
    // Entry 0 is the task "1"; entry 1 is the task "order-7": "1" names both.
    await outbox.enqueueMany([{ url: 'https://api.example.test/a', id: '1' }, { url: 'https://api.example.test/b', id: 'order-7' }]);
    await outbox.flush();
    await outbox.close();
    expect((await run('dead', 'api', '--json')) === 0 && json().map((l) => [l['id'], (l['task'] as { id: string }).id])).toEqual([
      ['0', '1'],
      ['1', 'order-7'],
    ]);
    for (const action of ['purge', 'retry']) {
      err = [];
      expect(await run('dead', 'api', action, '1')).toBe(1);
      expect(err).toEqual([expect.stringMatching(/^sluice: ERR_INVALID_OPTION: .*"1".*more than one dead letter/)]);
    }
    const again = await Outbox.open({ name: 'api', store: store() });
    expect(await again.dead.size()).toBe(2);
    await again.close();
    // Named by their other ids, each is found alone.
    out = [];
    expect(await run('dead', 'api', 'purge', '0', 'order-7', '--json')).toBe(0);
    expect(json()).toEqual([{ outbox: 'api', purged: 2 }]);
  });

  it('a task id that two letters share (two tasks enqueued under one id, both dead) is refused: neither is retried or purged', async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
    await outbox.enqueue({ url: 'https://api.example.test/v1', id: 'order-9' });
    await outbox.flush();
    // The app sent a corrected request under the same id: it died too.
    await outbox.enqueue({ url: 'https://api.example.test/v2', id: 'order-9' });
    await outbox.flush();
    await outbox.close();
    expect((await run('dead', 'api', '--json')) === 0 && json().map((l) => [l['id'], (l['task'] as { id: string }).id])).toEqual([
      ['0', 'order-9'],
      ['1', 'order-9'],
    ]);
    for (const action of ['retry', 'purge']) {
      err = [];
      expect(await run('dead', 'api', action, 'order-9')).toBe(1);
      expect(err).toEqual([expect.stringMatching(/^sluice: ERR_INVALID_OPTION: The id "order-9" names more than one dead letter of api \("order-9" is the task id of 2 \(entry ids "0", "1"\)\); nothing was/)]);
    }
    const again = await Outbox.open({ name: 'api', store: store() });
    expect(await again.size()).toBe(0);
    expect(await again.dead.size()).toBe(2);
    await again.close();
    // Named by their entry ids, each is found alone.
    out = [];
    expect(await run('dead', 'api', 'retry', '1', '--json')).toBe(0);
    expect(json()).toEqual([{ outbox: 'api', retried: 1 }]);
  });

  it('purge deletes every letter only with --all: without ids (an empty $IDS) it is a usage error, and nothing is purged', async () => {
    await deadLetters();
    for (const args of [['dead', 'api', 'purge'], ['dead', 'api', 'purge', '0', '--all'], ['dead', 'api', 'retry', '--all'], ['ls', '--all']]) {
      err = [];
      expect(await run(...args), args.join(' ')).toBe(2);
      expect(err[0], args.join(' ')).toMatch(/^sluice: ERR_INVALID_OPTION: .*(--all|ids)/);
    }
    let outbox = await Outbox.open({ name: 'api', store: store() });
    expect(await outbox.dead.size()).toBe(2);
    await outbox.close();
    expect(await run('dead', 'api', 'purge', '--all', '--json')).toBe(0);
    expect(json()).toEqual([{ outbox: 'api', purged: 2 }]);
    outbox = await Outbox.open({ name: 'api', store: store() });
    expect(await outbox.dead.size()).toBe(0);
    await outbox.close();
  });

  it('unknown ids exit 1 naming them, and nothing is retried or purged', async () => {
    await deadLetters();
    expect(await run('dead', 'api', 'retry', 'order-42', 'nope', '7')).toBe(1);
    expect(err).toEqual([expect.stringMatching(/^sluice: ERR_NOT_FOUND: No dead letter of api has the id "nope", "7"; nothing was retried\./)]);
    err = [];
    expect(await run('dead', 'api', 'purge', 'nope', '--json')).toBe(1);
    expect(JSON.parse(err[0]!)).toEqual({ error: { code: 'ERR_NOT_FOUND', message: expect.stringContaining('"nope"') } });
    const outbox = await Outbox.open({ name: 'api', store: store() });
    expect(await outbox.dead.size()).toBe(2);
    await outbox.close();
  });

  it('retry of all dead letters shows progress on a TTY', async () => {
    await deadLetters();
    io.progress.isTTY = true;
    expect(await run('dead', 'api', 'retry')).toBe(0);
    expect(out).toEqual(['Put 2 tasks back into api.']);
    expect(drawn[0]).toMatch(/^\rRetrying dead letters of api \[#+\] 100% 2\/2$/);
  });

  it('retry of all leaves the superseded (a newer task replaced them); named, they go back', async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
    await outbox.enqueue({ url: 'https://api.example.test/draft', key: 'draft', id: 'v1' });
    await outbox.enqueue({ url: 'https://api.example.test/draft', key: 'draft', id: 'v2' });
    await outbox.flush();
    await outbox.close();
    expect(await run('dead', 'api', 'retry')).toBe(0);
    expect(out).toEqual(['Put 1 task back into api.']);
    out = [];
    expect(await run('dead', 'api', 'retry', 'v1')).toBe(0);
    expect(out).toEqual(['Put 1 task back into api.']);
  });

  it('a plain queue has no dead letters: ERR_NOT_FOUND, exit 2', async () => {
    expect(await run('dead', 'jobs')).toBe(2);
    expect(err[0]).toMatch(/^sluice: ERR_NOT_FOUND: "jobs" in .* is a queue, not an outbox/);
  });
});

describe('usage', () => {
  it('an unknown command or flag, or missing or extra arguments, print the usage and exit 2', async () => {
    const cases = [
      ['frobnicate'],
      ['--frob'],
      ['peek'],
      ['peek', 'jobs', 'extra'],
      ['ls', 'extra'],
      ['peek', 'jobs', '--limit', 'x'],
      ['peek', 'jobs', '--limit', '-1'],
      ['clear', 'jobs', '--limit', '1'],
      ['dead'],
      ['dead', 'api', 'resurrect'],
      ['dead', 'api', 'list', 'x'],
    ];
    for (const args of cases) {
      err = [];
      expect(await run(...args), args.join(' ')).toBe(2);
      expect(err[0], args.join(' ')).toMatch(/^sluice: ERR_INVALID_OPTION: /);
      expect(err.join('\n'), args.join(' ')).toContain('Usage: sluice');
    }
    err = [];
    await run('ls', 'extra');
    expect(err[0]).toBe('sluice: ERR_INVALID_OPTION: ls takes no arguments; unexpected "extra".');
    expect(await main([], io)).toBe(2);
  });

  it('an option given twice with different values is refused (which was meant?), and nothing changes', async () => {
    const other = mkdtempSync(join(tmpdir(), 'sluice-cli-other-'));
    try {
      const q = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir: other }) });
      await q.push(1);
      await q.close();
      const before = [tree(dir), tree(other)];
      for (const args of [
        ['clear', 'jobs', '--dir', other, '--dir', dir],
        ['drain', 'jobs', '--dir', dir, '--dir', other],
        ['drain', 'jobs', '--limit', '1', '--limit', '2', '--dir', dir],
        ['peek', 'jobs', '--corruption', 'throw', '--corruption', 'skip', '--dir', dir],
      ]) {
        err = [];
        expect(await main(args, io), args.join(' ')).toBe(2);
        expect(err[0], args.join(' ')).toMatch(/^sluice: ERR_INVALID_OPTION: --(dir|limit|corruption) is given more than once, with different values/);
      }
      expect([tree(dir), tree(other)]).toEqual(before);
      expect(await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir: other }) }).then(async (again) => [await again.size(), await again.close()][0])).toBe(1);
      // The same value twice is no doubt.
      out = [];
      expect(await main(['stats', 'jobs', '--dir', dir, '--dir', dir, '--json'], io)).toBe(0);
      expect(json()[0]).toMatchObject({ queue: 'jobs', size: 3 });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('--limit -1 is told what --limit abc is told, not node:util\'s "ambiguous"', async () => {
    for (const value of ['-1', 'abc']) {
      err = [];
      expect(await run('peek', 'jobs', '--limit', value)).toBe(2);
      expect(err[0]).toBe(`sluice: ERR_INVALID_OPTION: --limit must be a whole number >= 0, got "${value}".`);
    }
  });

  it('an unknown flag is named with the flags there are, not node:util\'s advice about positionals after "--"', async () => {
    for (const flag of ['-v', '--queue']) {
      err = [];
      expect(await run('ls', flag)).toBe(2);
      expect(err[0]).toBe(`sluice: ERR_INVALID_OPTION: Unknown option "${flag}": the options are --dir, --limit, --json, --corruption, --accept-repairs, --mode, --ordering, --all, -h/--help and --version.`);
    }
  });

  it('--json reports a usage error as JSON, without the usage text', async () => {
    expect(await run('frobnicate', '--json')).toBe(2);
    expect(err.map((line) => JSON.parse(line))).toEqual([{ error: { code: 'ERR_INVALID_OPTION', message: 'Unknown command "frobnicate".' } }]);
  });

  it('--help prints the usage and exits 0', async () => {
    expect(await main(['--help'], io)).toBe(0);
    expect(out.join('\n')).toContain('Exit codes: 0 done; 1 failed');
  });

  it('help is --help as a command: the usage, exit 0, whatever follows it, and nothing opened or made', async () => {
    const missing = join(dir, 'missing');
    for (const args of [['help'], ['help', 'peek'], ['help', '--dir', missing], ['ls', '--help']]) {
      out = [];
      err = [];
      expect(await main(args, io), args.join(' ')).toBe(0);
      expect(out, args.join(' ')).toEqual([USAGE]);
      expect(err).toEqual([]);
    }
    expect(USAGE).toMatch(/^ {2}help {2,}this text \(as --help\)$/m);
    expect(existsSync(missing)).toBe(false);
  });

  it("--version prints the package's version (as package.json gives it) and exits 0, opening nothing; with --json as an object", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    const missing = join(dir, 'missing');
    expect(await main(['--version'], io)).toBe(0);
    expect(await main(['--version', '--dir', missing], io)).toBe(0);
    expect(await main(['ls', '--version', '--dir', missing], io)).toBe(0);
    expect(out).toEqual([version, version, version]);
    out = [];
    expect(await main(['--version', '--json'], io)).toBe(0);
    expect(json()).toEqual([{ version }]);
    expect(err).toEqual([]);
    expect(existsSync(missing)).toBe(false);
    // --help wins: asked for both, the usage says how to ask for the version.
    out = [];
    expect(await main(['--help', '--version'], io)).toBe(0);
    expect(out).toEqual([USAGE]);
    expect(USAGE).toMatch(/^ {2}--version {2,}sluice's version$/m);
  });

  it('an empty --dir is a usage error: one line and the usage, exit 2', async () => {
    expect(await main(['ls', '--dir', ''], io)).toBe(2);
    expect(err[0]).toBe('sluice: ERR_INVALID_OPTION: --dir must name a directory, got "".');
    expect(err.join('\n')).toContain('Usage: sluice');
  });

  it('a name that cannot be a queue is ERR_INVALID_NAME, exit 2', async () => {
    expect(await run('peek', '../etc')).toBe(2);
    expect(err.at(-1)).toMatch(/^sluice: ERR_INVALID_NAME: /);
  });
});
