import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FaultyStore } from '../support/faulty-store.js';
import { rig, type Rig } from './helpers.js';

let r: Rig;
let store: FaultyStore;
beforeEach(async () => {
  r = await rig();
  store = new FaultyStore(new MemoryStore());
  await r.reopen({ store, ordering: 'none', concurrency: 1 });
});
afterEach(() => r.teardown());

describe('tasks taken and given back untried, whose release fails', () => {
  it('are told in an error event, and go once the lease ends: never held by the handle for good', async () => {
    // The first request hangs: the tasks taken ahead of it wait in the buffer, leased.
    r.server.next({ hang: true });
    await r.outbox.enqueueMany([1, 2, 3, 4].map((n) => ({ url: `/${n}`, id: `t${n}` })));
    r.outbox.start();
    await r.server.waitFor(1);
    // Offline: what was taken ahead goes back, and that release fails.
    store.fail('commit', { storage: 'api' });
    r.outbox.setOnline(false);
    await vi.waitFor(() => expect(r.events('error')).toMatchObject([{ error: { message: expect.stringMatching(/commit failed/) } }]));
    r.outbox.setOnline(true);
    // The hung request times out (30 s) and is retried; the lease (timeoutMs + 60 s) ends for the others.
    for (let i = 0; i < 20 && (await r.outbox.size()) > 0; i++) {
      r.clock.advance(10_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await vi.waitFor(async () => expect(await r.outbox.size()).toBe(0));
    expect(new Set(r.server.received.map((x) => x.key))).toEqual(new Set(['t1', 't2', 't3', 't4']));
    expect(r.events('error')).toHaveLength(1);
  });
});
