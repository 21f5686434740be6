import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { Outbox } from '../../../src/outbox/outbox.js';
import { main } from '../../../src/platform/cli.js';

// What the CLI says when a queue it opens needed repair: every 'recover' and 'corrupt' event on stderr, and exit 3
// unless --accept-repairs. The queues are real FileStore queues, damaged on disk as a crash or a person would.

let dir: string;
let out: string[];
let err: string[];
const io = { out: (line: string) => void out.push(line), err: (line: string) => void err.push(line) };
const run = (...args: string[]) => main([...args, '--dir', dir], io);
const store = () => new FileStore({ dir });
const segments = (queue: string) => readdirSync(join(dir, queue)).filter((f) => f.endsWith('.seg')).sort();

/** Queue "q": 15 items in segments of 5, the first 2 acked. */
async function fifteen(): Promise<void> {
  const q = await Queue.open<{ n: number }>({ name: 'q', store: store(), segmentItems: 5 });
  for (let n = 0; n < 15; n++) await q.push({ n });
  await (await q.take(2))!.ack();
  await q.close();
}

/** An app's next open of "q": what it is told, and what it finds. */
async function appOpens(): Promise<{ events: string[]; size: number }> {
  const q = await Queue.open({ name: 'q', store: store() });
  const events: string[] = q.recovered.map((r) => r.kind);
  q.addEventListener('corrupt', () => events.push('corrupt'));
  await new Promise((resolve) => setTimeout(resolve, 10));
  const size = await q.size();
  await q.close();
  return { events, size };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-damage-'));
  out = [];
  err = [];
  await fifteen();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a missing meta file (rebuilt on open)', () => {
  beforeEach(() => unlinkSync(join(dir, 'q', 'meta')));

  it('stats reports the meta-missing repair on stderr, with the ids that may come again, and exits 3', async () => {
    expect(await run('stats', 'q')).toBe(3);
    expect(out[0]).toMatch(/^queue\s+q$/);
    expect(err).toContainEqual(expect.stringMatching(/^sluice: recover: q: meta-missing: .*ids \[0, 15\) may be delivered again/));
    expect(err.at(-1)).toMatch(/--accept-repairs/);
    // The repair is stored: the app is told nothing on its next open, so the CLI was the one place to say it.
    expect(await appOpens()).toEqual({ events: [], size: 15 });
  });

  it('ls, peek and stats --json report it too, as {"recover": detail} lines on stderr', async () => {
    expect(await run('ls')).toBe(3);
    expect(err[0]).toMatch(/^sluice: recover: q: meta-missing: /);
    unlinkSync(join(dir, 'q', 'meta'));
    err = [];
    expect(await run('peek', 'q')).toBe(3);
    expect(err[0]).toMatch(/^sluice: recover: q: meta-missing: /);
    unlinkSync(join(dir, 'q', 'meta'));
    err = [];
    expect(await run('stats', 'q', '--json')).toBe(3);
    expect(JSON.parse(err[0]!)).toEqual({ recover: { queue: 'q', kind: 'meta-missing', again: ['0', '15'] } });
  });

  it('--accept-repairs reports the repair and exits 0', async () => {
    expect(await run('stats', 'q', '--accept-repairs')).toBe(0);
    expect(err).toEqual([expect.stringMatching(/^sluice: recover: q: meta-missing: /)]);
  });

  it('drain stops before taking anything: acked items would be delivered again', async () => {
    expect(await run('drain', 'q')).toBe(3);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(/^sluice: recover: q: meta-missing: /);
    expect(err.join('\n')).toMatch(/nothing was drained/i);
    // Run again knowing it: the repair is stored, the items are there to drain.
    err = [];
    expect(await run('drain', 'q', '--json')).toBe(0);
    expect(out).toHaveLength(15);
    expect(err).toEqual([]);
  });

  it('clear stops before removing anything', async () => {
    expect(await run('clear', 'q')).toBe(3);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/nothing was removed/i);
    unlinkSync(join(dir, 'q', 'meta'));
    err = [];
    expect(await run('clear', 'q', '--accept-repairs')).toBe(0);
    expect(out).toEqual(['Removed 15 entries from q.']);
  });
});

describe('a queue missing its commits counter, or its metadata as well (a restore cut short)', () => {
  it('without its commits counter: ls lists it, and an outbox missing its dead letters\' counter still has them', async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 422 }) });
    await outbox.enqueue({ url: 'https://example.test/a' });
    await outbox.flush();
    await outbox.close();
    unlinkSync(join(dir, 'q', 'commits'));
    unlinkSync(join(dir, 'api.dead', 'commits'));
    expect(await run('ls')).toBe(0);
    expect(out.slice(1).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([
      ['api', 'outbox'],
      ['api.dead', 'dead-letters'],
      ['q', 'queue'],
    ]);
    out = [];
    expect(await run('dead', 'api', '--json')).toBe(0);
    expect(out.map((line) => JSON.parse(line).reason)).toEqual(['status']);
  });

  it('with its segments alone: stats finds it, and reports its metadata rebuilt (exit 3)', async () => {
    unlinkSync(join(dir, 'q', 'commits'));
    unlinkSync(join(dir, 'q', 'meta'));
    expect(await run('stats', 'q')).toBe(3);
    expect(err).toContainEqual(expect.stringMatching(/^sluice: recover: q: meta-missing/));
    expect((await appOpens()).size).toBe(15);
  });
});

describe("a drained queue's floor removed under it (its metadata kept)", () => {
  // Before, a read-only command wrote the floor again and exited 0, saying nothing.
  it('stats reports the floor written again on stderr, and exits 3', async () => {
    const q = await Queue.open<number>({ name: 'd', store: store(), segmentItems: 5 });
    await q.pushMany([1, 2, 3]);
    await (await q.take(3))!.ack();
    await q.close();
    for (const file of segments('d')) unlinkSync(join(dir, 'd', file));
    expect(await run('stats', 'd')).toBe(3);
    expect(err.join('\n')).toContain('floor: the segments ended before the next id, 3: an empty segment was written there');
    expect(segments('d')).toEqual(['0000000000000003.seg']);
  });
});

describe('a torn tail (bytes past the last commit)', () => {
  it('peek reports the cut, with segment, offset and bytes, and exits 3', async () => {
    const last = join(dir, 'q', segments('q').at(-1)!);
    const size = readFileSync(last).length;
    appendFileSync(last, Buffer.from([1, 2, 3, 4, 5, 6, 7]));
    expect(await run('peek', 'q', '--limit', '1')).toBe(3);
    expect(err).toContainEqual(`sluice: recover: q: tail: cut 7 bytes at byte ${size} of segment 10 (a torn write).`);
  });
});

describe('items lost from a cut segment', () => {
  beforeEach(() => {
    const last = join(dir, 'q', segments('q').at(-1)!);
    const bytes = readFileSync(last);
    writeFileSync(last, bytes.subarray(0, bytes.length - 10));
  });

  it('is ERR_CORRUPT (exit 1), and the message tells how to go on from the command line', async () => {
    expect(await run('stats', 'q')).toBe(1);
    expect(err.at(-1)).toMatch(/^sluice: ERR_CORRUPT: .*run the command again with --corruption skip/i);
    expect(err.join('\n')).not.toMatch(/corruption: 'skip'/);
  });

  it('--corruption skip counts them as lost, names them, and exits 3 (0 with --accept-repairs)', async () => {
    expect(await run('stats', 'q', '--corruption', 'skip')).toBe(3);
    // Item 14 was cut; the core counts as lost every id the cut bytes could have held.
    expect(err).toContainEqual(expect.stringMatching(/^sluice: corrupt: q: missing: \d+ unacked items? lost \(ids? 14\b.*\), segment 10; skipped: counted as lost\.$/));
    expect(err).toContainEqual(expect.stringMatching(/^sluice: recover: q: rollback: ids \[14, \d+\) .* void/));
    expect(out[2]).toMatch(/^size\s+12$/);
    err = [];
    expect(await run('stats', 'q', '--corruption', 'skip', '--accept-repairs')).toBe(0);
    expect(err).toEqual([]);
  });

  it('ls lists the other queues, gives the damaged one a row naming its error, and exits 1 at the end', async () => {
    const ok = await Queue.open<number>({ name: 'ok', store: store() });
    await ok.pushMany([1, 2]);
    await ok.close();
    const q = await Queue.open<number>({ name: 'r', store: store() });
    await q.push(1);
    await q.close();
    expect(await run('ls')).toBe(1);
    expect(out.map((line) => line.split(/\s{2,}/))).toEqual([
      ['queue', 'kind', 'size', 'leased', 'delayed', 'segments', 'bytes', 'oldest'],
      ['ok', 'queue', '2', '0', '0', '1', expect.any(String), expect.any(String)],
      ['q', 'queue', '-', '-', '-', '-', '-', 'ERR_CORRUPT (on stderr)'],
      ['r', 'queue', '1', '0', '0', '1', expect.any(String), expect.any(String)],
    ]);
    expect(err).toContainEqual(expect.stringMatching(/^sluice: ERR_CORRUPT: q: .*run the command again with --corruption skip/i));
    out = [];
    err = [];
    expect(await run('ls', '--json')).toBe(1);
    expect(out.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ queue: 'ok', size: 2 }),
      { queue: 'q', kind: 'queue', error: { code: 'ERR_CORRUPT', message: expect.stringMatching(/--corruption skip/) } },
      expect.objectContaining({ queue: 'r', size: 1 }),
    ]);
    expect(err.map((line) => JSON.parse(line) as unknown)).toContainEqual({ error: { code: 'ERR_CORRUPT', message: expect.stringMatching(/^q: /) } });
  });

  it('--corruption takes throw or skip only', async () => {
    expect(await run('stats', 'q', '--corruption', 'ignore')).toBe(2);
    expect(err[0]).toBe('sluice: ERR_INVALID_OPTION: --corruption must be "throw" or "skip", got "ignore".');
  });
});

describe('an outbox\'s dead letters', () => {
  beforeEach(async () => {
    const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
    await outbox.enqueueMany([{ url: 'https://api.example.test/a' }, { url: 'https://api.example.test/b' }]);
    await outbox.flush();
    await outbox.close();
    unlinkSync(join(dir, 'api.dead', 'meta'));
  });

  it('ls names the dead-letter queue that needed repair', async () => {
    expect(await run('ls')).toBe(3);
    expect(err[0]).toMatch(/^sluice: recover: api\.dead: meta-missing: /);
  });

  it('dead list reports it; dead retry stops before retrying', async () => {
    expect(await run('dead', 'api')).toBe(3);
    expect(err[0]).toMatch(/^sluice: recover: api\.dead: meta-missing: /);
    expect(out).toHaveLength(3);
    unlinkSync(join(dir, 'api.dead', 'meta'));
    out = [];
    err = [];
    expect(await run('dead', 'api', 'retry')).toBe(3);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/nothing was retried/i);
  });
});
