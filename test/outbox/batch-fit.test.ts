import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { io, rig, until, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

/** The server refuses (413) a request whose body is over `limit` bytes, as Express's default 100 KB limit does. */
const refuseOver = (limit: number) => r.server.script((req) => (req.body.length > limit ? { status: 413 } : undefined));
const batches = () => r.server.received.map((x) => (JSON.parse(x.body.toString()) as { n: number }[]).map((b) => b.n));
const accepted = () => r.server.received.filter((x) => x.fault.status !== 413);
const task = (n: number, group?: string) => ({ url: '/one', body: { n, pad: 'x'.repeat(1_000) }, ...(group !== undefined && { group }) });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('a batch the server refuses as too large (413)', () => {
  for (const ordering of ['group', 'none'] as const) {
    it(`goes again at once in halves, none of its tasks dead, in order (ordering: '${ordering}')`, async () => {
      await r.reopen({ batch: { url: '/batch', maxItems: 16 }, ordering });
      refuseOver(5_000);
      await r.outbox.enqueueMany(range(0, 16).map((n) => task(n)));
      expect(await r.outbox.flush()).toMatchObject({ sent: 16, dead: 0, retried: 0, remaining: 0 });
      expect(await r.outbox.dead.list()).toEqual([]);
      // 16 tasks of about 1 KB: refused whole and in halves of 8, sent in quarters of 4, each once, in order.
      const sent = accepted().map((x) => (JSON.parse(x.body.toString()) as { n: number }[]).map((b) => b.n));
      expect(sent.flat().sort((a, b) => a - b)).toEqual(range(0, 16));
      expect(sent.every((b) => b.length === 4)).toBe(true);
      if (ordering === 'group') expect(sent.flat()).toEqual(range(0, 16));
      expect(r.events('sent')).toHaveLength(16);
      // Each request that carried other tasks carried another key.
      expect(new Set(r.server.received.map((x) => x.key)).size).toBe(r.server.received.length);
    });
  }

  it('makes the batches after it no larger than the halves that went: no refusal again', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 16 } });
    refuseOver(9_000);
    await r.outbox.enqueueMany(range(0, 16).map((n) => task(n)));
    await r.outbox.flush();
    const before = r.server.received.length;
    await r.outbox.enqueueMany(range(16, 48).map((n) => task(n)));
    expect(await r.outbox.flush()).toMatchObject({ sent: 32, dead: 0, remaining: 0 });
    const later = r.server.received.slice(before);
    expect(later.filter((x) => x.fault.status === 413)).toEqual([]);
    expect(batches().slice(before).flat()).toEqual(range(16, 48));
    // 32 tasks in batches of the halves' size (up to 8: the limit learned is in the bytes a task is stored in).
    expect(later.length).toBeGreaterThanOrEqual(4);
    expect(later.length).toBeLessThanOrEqual(6);
  });

  it('makes the batches after it as large as the halves that went, not smaller (halves of 2: batches of 2, not of 1)', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 16 } });
    refuseOver(2_100);
    // Tasks of equal size (two-digit n): refused as 4, sent in halves of 2.
    await r.outbox.enqueueMany(range(10, 14).map((n) => task(n)));
    await r.outbox.flush();
    expect(batches()).toEqual([[10, 11, 12, 13], [10, 11], [12, 13]]);
    const before = r.server.received.length;
    await r.outbox.enqueueMany(range(14, 22).map((n) => task(n)));
    expect(await r.outbox.flush()).toMatchObject({ sent: 8, dead: 0, remaining: 0 });
    expect(batches().slice(before)).toEqual([[14, 15], [16, 17], [18, 19], [20, 21]]);
  });

  it("a task alone that the server refuses is dead as 'status' 413; the rest of its batch is sent", async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 8 } });
    r.server.script((req) => (req.body.toString().includes('"n":5') ? { status: 413 } : undefined));
    await r.outbox.enqueueMany(range(0, 8).map((n) => task(n)));
    expect(await r.outbox.flush()).toMatchObject({ sent: 7, dead: 1, remaining: 0 });
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'status', status: 413, task: { body: { n: 5 } } }]);
    expect(accepted().flatMap((x) => (JSON.parse(x.body.toString()) as { n: number }[]).map((b) => b.n))).toEqual([0, 1, 2, 3, 4, 6, 7]);
  });

  it('keeps a group in order when a half fails: the half behind it waits, and goes after it', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 8 } });
    let failedOnce = false;
    r.server.script((req) => {
      if (req.body.length > 5_000) return { status: 413 };
      if (!failedOnce && req.body.toString().includes('"n":0')) return (failedOnce = true), { status: 503 };
      return undefined;
    });
    await r.outbox.enqueueMany(range(0, 8).map((n) => task(n, 'g')));
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, retried: 4, remaining: 8 });
    r.clock.advance(1_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 8, remaining: 0 });
    expect(accepted().filter((x) => x.fault.status === undefined || x.fault.status < 300).flatMap((x) => (JSON.parse(x.body.toString()) as { n: number }[]).map((b) => b.n))).toEqual(range(0, 8));
  });
});

describe('a batch the server answers too slowly (no answer within timeoutMs)', () => {
  /** Flushes, letting any request that hangs run out of time, then waits out the retry's delay. */
  async function flushPast(timeoutMs: number) {
    const before = r.server.received.length;
    let settled = false;
    const flushing = r.outbox.flush().finally(() => (settled = true));
    await until(() => settled || r.server.received.slice(before).some((x) => x.fault.hang === true));
    // Answered requests of the round settle first: the clock's jump would time them out too (a late answer is a retry).
    await io(200);
    if (!settled) r.clock.advance(timeoutMs);
    const result = await flushing;
    r.clock.advance(300_000);
    return result;
  }

  for (const ordering of ['group', 'none'] as const) {
    it(`goes again as it was once (same key), then in halves, until the server answers: every task sent once (ordering: '${ordering}')`, async () => {
      await r.reopen({ batch: { url: '/batch', maxItems: 16 }, timeoutMs: 5_000, ordering });
      // A server slower than the time limit for more than 4 items at once.
      r.server.script((req) => ((JSON.parse(req.body.toString()) as unknown[]).length > 4 ? { hang: true } : undefined));
      await r.outbox.enqueueMany(range(0, 16).map((n) => task(n)));
      for (let i = 0; i < 20 && (await r.outbox.size()) > 0; i++) await flushPast(5_000);
      expect(await r.outbox.size()).toBe(0);
      expect(await r.outbox.dead.list()).toEqual([]);
    const answered = r.server.received.filter((x) => !x.fault.hang).map((x) => (JSON.parse(x.body.toString()) as { n: number }[]).map((b) => b.n));
      expect(answered.flat().sort((a, b) => a - b)).toEqual(range(0, 16));
      if (ordering === 'group') expect(answered.flat()).toEqual(range(0, 16));
      expect(r.events('sent')).toHaveLength(16);
      // The first retry of a batch is the batch as it was, under its key: a server that saw the first knows it.
      const [first, second] = r.server.received;
      expect(second!.key).toBe(first!.key);
      expect(batches()[0]).toHaveLength(16);
      // Halves of one lane go one after the other, each as it was once too; without ordering, side by side.
      if (ordering === 'group') expect(batches().map((b) => b.length)).toEqual([16, 16, 8, 8, 4, 4, 4, 4]);
      expect(answered.every((b) => b.length === 4)).toBe(true);
    });
  }

  it('batches made smaller grow back, twice as large after 16 answered in a row: an outage that timed out every size leaves no batches of one', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 8 }, timeoutMs: 5_000 });
    let down = true;
    r.server.script(() => (down ? { hang: true } : undefined));
    await r.outbox.enqueueMany(range(0, 8).map((n) => task(n, 'g')));
    const sizes = (hung: boolean) => r.server.received.filter((x) => Boolean(x.fault.hang) === hung).map((x) => (JSON.parse(x.body.toString()) as unknown[]).length);
    for (let i = 0; i < 12 && sizes(true).filter((size) => size === 1).length < 2; i++) await flushPast(5_000);
    expect(sizes(true).slice(-2)).toEqual([1, 1]);
    down = false;
    await r.outbox.enqueueMany(range(8, 80).map((n) => task(n, 'g')));
    for (let i = 0; i < 10 && (await r.outbox.size()) > 0; i++) await flushPast(5_000);
    expect(await r.outbox.size()).toBe(0);
    // Down to batches of one by the outage; then 2 after 16 answered, 4 after 16 more: in order, all.
    expect(sizes(false)).toEqual([...Array(16).fill(1), ...Array(16).fill(2), ...Array(8).fill(4)]);
    expect(r.events('sent')).toHaveLength(80);
  });

  it('with maxAttempts 2, a batch whose tasks die at its second timeout still makes later batches smaller', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 8 }, timeoutMs: 5_000, retry: { maxAttempts: 2 } });
    r.server.script((req) => ((JSON.parse(req.body.toString()) as unknown[]).length > 2 ? { hang: true } : undefined));
    for (let n = 0; n < 32 && r.server.received.every((x) => x.fault.hang); n += 8) {
      await r.outbox.enqueueMany(range(n, n + 8).map((i) => task(i)));
      for (let i = 0; i < 4 && (await r.outbox.size()) > 0; i++) await flushPast(5_000);
    }
    // 8 twice (dead), 4 twice (dead), then batches of 2 answered: before, every batch stayed 8, every task dead.
    expect(batches().map((b) => b.length).slice(0, 4)).toEqual([8, 8, 4, 4]);
    expect(r.server.received.some((x) => !x.fault.hang)).toBe(true);
  });

  it('a batch that timed out once and was then answered keeps the handle\'s batch size', async () => {
    await r.reopen({ batch: { url: '/batch', maxItems: 8 }, timeoutMs: 5_000 });
    r.server.next({ hang: true });
    await r.outbox.enqueueMany(range(0, 8).map((n) => task(n)));
    await flushPast(5_000);
    expect(await flushPast(5_000)).toMatchObject({ sent: 8 });
    await r.outbox.enqueueMany(range(8, 16).map((n) => task(n)));
    expect(await flushPast(5_000)).toMatchObject({ sent: 8 });
    expect(batches().map((b) => b.length)).toEqual([8, 8, 8]);
  });
});
