import { expect, it } from 'vitest';
import { MemoryStore, Queue } from '../../src/index.js';
import { ack } from '../../src/outbox/voided-acks.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A handle's lease L1 ended and another handle took its entry; this handle holds a fresh lease L2 on the next
// entries, which nobody else holds. Its acks are removals by entry id, as the outbox's ack batcher commits them.
it("leaves what another handle took back, the later entries of that commit, and L1's later acks; never L2's", async () => {
  const store = new MemoryStore();
  const a = await Queue.open<string>({ name: 'q', store });
  const b = await Queue.open<string>({ name: 'q', store });
  try {
    const ids = await a.pushMany(['x0', 'x1', 'x2', 'x3', 'x4']);
    const l1 = (await a.take(1, { leaseMs: 50 }))!;
    await sleep(120);
    expect((await b.take(1))!.entries.map((e) => e.id)).toEqual([ids[0]]);
    const l2 = (await a.take(3))!;
    const leases = new Map<string, object>([[ids[0]!, l1], [ids[1]!, l2], [ids[2]!, l2], [ids[3]!, l2], [ids[4]!, l1]]);
    // One commit: e0 (taken back) and e1 after it, left; L1 is marked, L2 is not (nobody took any of it).
    expect([...(await ack(a, [ids[0]!, ids[1]!], leases))]).toEqual([ids[0], ids[1]]);
    expect([...(await ack(a, [ids[2]!, ids[3]!], leases))]).toEqual([]);
    // A later ack of L1 (a response read as the stopped process goes on) is left without being tried.
    expect([...(await ack(a, [ids[4]!], leases))]).toEqual([ids[4]]);
    expect((await a.list()).map((e) => e.id)).toEqual([ids[0], ids[1], ids[4]]);
  } finally {
    await a.close();
    await b.close();
  }
});
