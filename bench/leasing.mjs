// Leasing: the cost of one take + ack while many one-item leases are outstanding, against the same with few.
// DESIGN.md's target: with 10 000 outstanding, under 2x the cost with 10 (no step of a take or an ack may walk
// what is held).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../dist/fs.js';
import { MemoryStore, Queue } from '../dist/index.js';
import { fmt, median, table } from './lib.mjs';

const CALLS = 2_000;
const RUNS = 5;

/** Per-call microseconds of take(1) + ack with `outstanding` one-item leases held meanwhile. */
async function perCall(makeStore, outstanding) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-leasing-'));
  const q = await Queue.open({ name: 'bench', store: makeStore(dir), leaseMs: 3_600_000 });
  try {
    const item = { kind: 'note', text: 'x'.repeat(60) };
    for (let i = 0; i < outstanding + CALLS; i += 500) await q.pushMany(Array.from({ length: Math.min(500, outstanding + CALLS - i) }, () => item));
    for (let i = 0; i < outstanding; i++) await q.take(1);
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) await (await q.take(1)).ack();
    return ((performance.now() - t0) / CALLS) * 1000;
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const stores = [
  ['MemoryStore', () => new MemoryStore()],
  ['FileStore (relaxed)', (dir) => new FileStore({ dir })],
];
const rows = [];
for (const [name, makeStore] of stores) {
  // Each run measures both sides back to back, so both see the same machine load; the ratio is taken per run.
  const few = [];
  const many = [];
  const ratios = [];
  for (let run = 0; run < RUNS; run++) {
    const a = await perCall(makeStore, 10);
    const b = await perCall(makeStore, 10_000);
    few.push(a);
    many.push(b);
    ratios.push(b / a);
  }
  rows.push([name, `${fmt(median(few))} µs`, `${fmt(median(many))} µs`, `${median(ratios).toFixed(2)}x`, '< 2x']);
}
table(`Leasing: take(1) + ack per call (median of ${RUNS} runs of ${CALLS} calls)`, ['store', '10 outstanding leases', '10 000 outstanding leases', 'ratio', 'target'], rows);
