// One partition: the queue's own order (entry ids) is the order; `createdAt` is the enqueuing handle's wall clock.
import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';
import { PendingIndex } from '../../src/outbox/pending.js';
import type { StoredTask } from '../../src/outbox/task.js';
import { FakeClock } from '../support/fake-clock.js';

const task = (id: string, createdAt: number): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt });

describe('PendingIndex.take() with one partition', () => {
  it('takes in queue order (as `take` and `byTurn` say), whatever the enqueuing clocks said', () => {
    const index = new PendingIndex('none');
    index.add(0, task('first', 2_000), 0); // stored first, by a handle whose clock is ahead
    index.add(1, task('second', 1_000), 0); // stored after it, by a handle whose clock is behind (or stepped back)
    expect(index.take(2, 0).map((p) => p.id)).toEqual(['first', 'second']);
  });
});

describe('Outbox, one partition, two handles whose clocks differ (two machines on one Redis)', () => {
  it('sends in the order the tasks were stored', async () => {
    const store = new MemoryStore();
    const sent: string[] = [];
    const fetch = async (input: RequestInfo | URL) => {
      sent.push(new URL(String(input)).pathname);
      return new Response('ok');
    };
    const ahead = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 30)); // 30 s ahead
    const behind = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const a = await Outbox.open({ name: 'api', store, ordering: 'none', concurrency: 1, fetch, clock: ahead });
    const b = await Outbox.open({ name: 'api', store, ordering: 'none', concurrency: 1, fetch, clock: behind });
    for (let i = 0; i < 3; i++) await a.enqueue({ url: `https://x.test/a${i}`, body: { i } });
    for (let i = 0; i < 3; i++) await b.enqueue({ url: `https://x.test/b${i}`, body: { i } });
    await a.flush();
    expect(sent).toEqual(['/a0', '/a1', '/a2', '/b0', '/b1', '/b2']);
    await b.close();
    await a.close();
  });

  it('sends in the order the tasks were stored after the wall clock stepped back (NTP)', async () => {
    const sent: string[] = [];
    const clock = new FakeClock();
    const outbox = await Outbox.open({
      name: 'api',
      store: new MemoryStore(),
      ordering: 'none',
      concurrency: 1,
      clock,
      fetch: async (input) => {
        sent.push(new URL(String(input)).pathname);
        return new Response('ok');
      },
    });
    await outbox.enqueue({ url: 'https://x.test/before', body: {} });
    clock.step(-60_000);
    await outbox.enqueue({ url: 'https://x.test/after', body: {} });
    await outbox.flush();
    expect(sent).toEqual(['/before', '/after']);
    await outbox.close();
  });
});
