import { describe, expect, it } from 'vitest';
import { Queue, type Store } from '../../src/index.js';
import { FaultyStore } from '../support/faulty-store.js';
import { FakeClock } from '../support/fake-clock.js';
import { localStores } from '../support/local-stores.js';

const stores = localStores('sluice-take-landed-');

/** Lets promise callbacks and real I/O run while the fake clock stands still. */
const io = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

/** A handle whose take of [1, 2] lands but rejects, and whose give-back then fails `down` times; another handle. */
async function takeLandedUnseen(make: () => Store, down: number) {
  const store = new FaultyStore(make());
  const clock = new FakeClock();
  const q = await Queue.open<number>({ name: 'jobs', store, clock, leaseMs: 60_000 });
  const other = await Queue.open<number>({ name: 'jobs', store, clock, leaseMs: 60_000 });
  await q.pushMany([1, 2]);
  store.fail('commit', { landed: true });
  store.fail('commit', { times: down });
  await expect(q.take(2)).rejects.toMatchObject({ code: 'ERR_STORAGE' });
  const commits = () => store.calls.get('jobs:commit') ?? 0;
  const states = async () => (await other.list()).map((e) => [e.value, e.state, e.attempts]);
  return { store, clock, q, other, commits, states };
}

for (const [label, make] of stores) {
  describe(`a take that landed unseen, its give-back failing too, on a ${label}: given back in the background`, () => {
    it('by a handle that takes no more, about half a second later, untried', async () => {
      const { clock, q, other, states } = await takeLandedUnseen(make, 1);
      expect(await states()).toEqual([
        [1, 'leased', 1],
        [2, 'leased', 1],
      ]);
      clock.advance(499);
      await io();
      expect((await states()).map((s) => s[1])).toEqual(['leased', 'leased']);
      clock.advance(1);
      await io();
      expect(await states()).toEqual([
        [1, 'ready', 0],
        [2, 'ready', 0],
      ]);
      expect((await other.take(2))!.entries.map((e) => [e.value, e.attempts])).toEqual([
        [1, 1],
        [2, 1],
      ]);
      await other.close();
      await q.close();
    });

    it('tried again, the wait doubling up to 8 s, while the store stays down', async () => {
      const { store, clock, q, other, commits, states } = await takeLandedUnseen(make, 1_000);
      const tries: number[] = [];
      let last = commits();
      for (let ms = 0; ms < 40_000; ms += 250) {
        clock.advance(250);
        await io(2);
        if (commits() > last) tries.push(clock.monotonic());
        last = commits();
      }
      const gaps = tries.map((t, i) => t - (i === 0 ? 0 : tries[i - 1]!));
      expect(gaps.slice(0, 7)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
      store.heal();
      clock.advance(8_000);
      await io();
      expect((await states()).map((s) => s[1])).toEqual(['ready', 'ready']);
      // Landed: tried no more.
      const after = commits();
      clock.advance(30_000);
      await io();
      expect(commits()).toBe(after);
      await other.close();
      await q.close();
    });

    it('no more once the lease ends or the handle closes; nothing committed when nothing is held under it', async () => {
      const ended = await takeLandedUnseen(make, 1_000);
      ended.clock.advance(60_000);
      await io();
      ended.store.heal();
      let at = ended.commits();
      ended.clock.advance(30_000);
      await io();
      expect(ended.commits()).toBe(at);
      await ended.other.close();
      await ended.q.close();

      const closed = await takeLandedUnseen(make, 1);
      await closed.q.close();
      at = closed.commits();
      closed.clock.advance(30_000);
      await io();
      expect(closed.commits()).toBe(at);
      expect((await closed.states()).map((s) => s[1])).toEqual(['ready', 'ready']);
      await closed.other.close();

      // Another handle removes them first: the give-back finds nothing held and commits nothing.
      const gone = await takeLandedUnseen(make, 1);
      expect(await gone.other.clear()).toBe(2);
      at = gone.commits();
      gone.clock.advance(500);
      await io();
      expect(gone.commits()).toBe(at);
      expect(await gone.states()).toEqual([]);
      await gone.other.close();
      await gone.q.close();
    });
  });
}
