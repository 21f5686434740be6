// Events with several delivering handles of one outbox (in Node, without Web Locks, every started handle delivers):
// each handle hears 'sent' once for every task, whichever handle sent it, and says 'drained' once per emptying, after
// those 'sent' events. (A handle that found a task gone from the store before the other's word on it came used to
// drop that word; one whose index the other's commits emptied used to say 'drained' never.)
import { describe, expect, it } from 'vitest';
import type { Outbox } from '../../src/outbox/outbox.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { handlesOf, io, until } from './helpers.js';

const shared = handlesOf('handles-events');
const open = shared.open;

/** Per handle, how many times it said 'sent' of each task id, and the count of 'sent' it had said at each 'drained'. */
function heard(handle: Outbox) {
  const sent = new Map<string, number>();
  const drained: number[] = [];
  handle.addEventListener('sent', (e) => sent.set(e.detail.task.id, (sent.get(e.detail.task.id) ?? 0) + 1));
  handle.addEventListener('drained', () => drained.push([...sent.values()].reduce((a, b) => a + b, 0)));
  return { sent, drained };
}

describe('two delivering handles', () => {
  it("each hears 'sent' once for every task, the other's too (found gone before its word came)", async () => {
    const store = new MemoryStore();
    const [a, b] = [await open(store), await open(store)] as [Outbox, Outbox];
    const ids: string[] = [];
    for (let n = 0; n < 400; n++) ids.push(await (n % 2 ? b : a).enqueue({ url: `/t/${n}`, id: `k${n}`, group: `g${n % 5}` }));
    // Both index every task before delivery starts: none is one "a handle does not hold".
    expect((await a.list({ limit: 1_000 })).length).toBe(400);
    expect((await b.list({ limit: 1_000 })).length).toBe(400);
    const [ha, hb] = [heard(a), heard(b)];
    a.start();
    b.start();
    await shared.server.waitFor(400);
    await until(() => ha.sent.size === 400 && hb.sent.size === 400);
    await io(200);
    for (const h of [ha, hb]) {
      expect(ids.filter((id) => !h.sent.has(id))).toEqual([]);
      expect([...h.sent.values()].every((times) => times === 1)).toBe(true);
    }
  });

  it("each says 'drained' once per emptying, and hears the 'sent' of every task that emptied it", async () => {
    const store = new MemoryStore();
    const [a, b] = [await open(store), await open(store)] as [Outbox, Outbox];
    const [ha, hb] = [heard(a), heard(b)];
    a.start();
    b.start();
    for (let round = 1; round <= 4; round++) {
      const ids = await a.enqueueMany(Array.from({ length: 30 }, (_, n) => ({ url: `/r${round}/${n}`, group: `g${n % 3}` })));
      ids.push(...(await b.enqueueMany(Array.from({ length: 30 }, (_, n) => ({ url: `/s${round}/${n}`, group: `g${n % 3}` })))));
      await until(() => ha.drained.length === round && hb.drained.length === round);
      await io(200);
      expect(await a.size()).toBe(0);
      expect([ha.drained.length, hb.drained.length]).toEqual([round, round]);
      // Every 'sent' of this round's tasks heard, relayed ones included. (Said after them in every run seen; a handle
      // that finds its last task gone before the other's word on it comes may say 'drained' first, and the 'sent' after.)
      await until(() => ha.sent.size === 60 * round && hb.sent.size === 60 * round);
    }
  });
});
