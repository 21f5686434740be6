import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rig, type Rig } from './helpers.js';

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
