// Queue on MemoryStore: the cost of the core itself (framing, checksums, group commit, leases), no I/O.
import { MemoryStore, Queue } from '../dist/index.js';
import { fmt, measure, table } from './lib.mjs';

const N = 20_000;
const item = (n) => ({ id: n, kind: 'note', text: 'x'.repeat(60), at: 1_700_000_000_000 + n });
const items = Array.from({ length: N }, (_, n) => item(n));

let q;
const fresh = async () => {
  await q?.close();
  q = await Queue.open({ name: 'bench', store: new MemoryStore() });
};
const filled = async () => {
  await fresh();
  for (let i = 0; i < N; i += 100) await q.pushMany(items.slice(i, i + 100));
};

const results = await measure([
  {
    name: 'push, awaited one at a time',
    items: N / 4,
    setup: fresh,
    fn: async () => {
      for (let i = 0; i < N / 4; i++) await q.push(items[i]);
    },
  },
  { name: 'push, 1 000 concurrent', items: N, setup: fresh, fn: async () => {
    for (let i = 0; i < N; i += 1000) await Promise.all(items.slice(i, i + 1000).map((x) => q.push(x)));
  } },
  { name: 'pushMany(100)', items: N, setup: fresh, fn: async () => {
    for (let i = 0; i < N; i += 100) await q.pushMany(items.slice(i, i + 100));
  } },
  { name: 'take(100) + ack', items: N, setup: filled, fn: async () => {
    for (let lease = await q.take(100); lease; lease = await q.take(100)) await lease.ack();
  } },
]);
await q.close();

table('Queue on MemoryStore (median of 5 runs)', ['operation', 'items/s', 'ms per run'], results.map((r) => [r.name, fmt(r.rate), fmt(r.ms)]));
