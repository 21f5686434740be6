// Another handle's word that a task left, checked against the store (RelayChecks): while it is checked, the task
// keeps its place in its group.
import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { handlesOf } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

const shared = handlesOf('claims');

describe("a stray or forged 'sent' for a group's head that waits for its retry", () => {
  it("does not let the next task of the group go first, nor two of the group be in flight at once", async () => {
    const store = new MemoryStore();
    const delivering = await shared.open(store, { ordering: 'group', retry: { initialDelayMs: 300, maxDelayMs: 300 }, random: () => 0.99 });
    const other = await shared.open(store, { ordering: 'group' });
    const [x, y] = await other.enqueueMany([{ url: '/x', group: 'g' }, { url: '/y', group: 'g' }]);
    const queue = await Queue.open<{ id: string }>({ ...outboxQueue, name: 'claims', store });
    const entryOfX = (await queue.list()).find((e) => e.value.id === x)!.id;
    await queue.close();
    shared.server.plan(x!, [{ status: 503 }, { status: 200 }]);
    shared.server.plan(y!, [{ status: 200, delayMs: 1500 }]);
    delivering.start();
    await shared.server.waitFor(1); // X: 503, waits ~300 ms for its retry; Y waits behind it.
    // A stray message (another version, a bug, a forged post) says X was sent. It was not: it is still stored.
    const channel = new BroadcastChannel(`sluice-outbox:${store.scope}:claims`);
    channel.postMessage([{ type: 'sent', entry: entryOfX, detail: { task: { id: x }, status: 200 } }]);
    channel.close();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const order = shared.server.received.map((r) => r.key);
    // Group order: X (503), X again, then Y. What happens: Y goes at once, and X (read back) goes while Y is out.
    expect(order).toEqual([x, x, y]);
  });
});
