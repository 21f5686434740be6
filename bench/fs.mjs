// FileStore against the least work any durable file queue must do, measured in the same run.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Queue } from '../dist/index.js';
import { FileStore } from '../dist/fs.js';
import { fmt, measure, table } from './lib.mjs';

const item = (n) => ({ id: n, kind: 'note', text: 'x'.repeat(50), at: 1_700_000_000_000 + n }); // ~100 bytes of JSON
const N = 50_000;
const items = Array.from({ length: N }, (_, n) => item(n));
const encoder = new TextEncoder();
const crc32 = zlibCrc32 ?? ((bytes) => bytes.length); // zlib.crc32 is native from Node 20.15

let dir;
let q;

/**
 * Runs `base` and `subject` alternately, `runs` pairs after one warm-up pair; resolves with each one's median rate,
 * and the subject's median ratio to the base of its own pair.
 */
async function paired(base, subject, runs = 5) {
  const time = async (c) => {
    await c.setup?.();
    const started = performance.now();
    await c.fn();
    return c.items / ((performance.now() - started) / 1000);
  };
  await time(base);
  await time(subject);
  const rates = [];
  for (let i = 0; i < runs; i++) rates.push([await time(base), await time(subject)]);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return [
    { name: base.name, rate: median(rates.map(([b]) => b)) },
    { name: subject.name, rate: median(rates.map(([, s]) => s)), ratio: median(rates.map(([b, s]) => s / b)) },
  ];
}
const freshDir = () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
};
const freshQueue = async (durability) => {
  await q?.close();
  freshDir();
  q = await Queue.open({ name: 'bench', store: new FileStore({ dir }), durability });
};

// Baseline 1: JSON.stringify + CRC-32 + 8-byte header inline, one writeSync per batch of 100, no fsync.
function rawFramedWrites() {
  const fd = openSync(join(dir, 'raw'), 'w');
  for (let i = 0; i < N; i += 100) {
    const payloads = items.slice(i, i + 100).map((x) => encoder.encode(JSON.stringify(x)));
    const out = new Uint8Array(payloads.reduce((n, p) => n + 8 + p.length, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const p of payloads) {
      view.setUint32(at, p.length, true);
      view.setUint32(at + 4, crc32(p), true);
      out.set(p, at + 8);
      at += 8 + p.length;
    }
    writeSync(fd, out);
  }
  closeSync(fd);
}

// Baseline 2: one write + fsync per item.
const STRICT = 1000;
function writeFsyncEach() {
  const fd = openSync(join(dir, 'raw'), 'w');
  for (let i = 0; i < STRICT / 4; i++) {
    writeSync(fd, encoder.encode(JSON.stringify(items[i])));
    fsyncSync(fd);
  }
  closeSync(fd);
}

const rawCase = { name: 'raw framed writeSync, batches of 100', items: N, setup: freshDir, fn: rawFramedWrites };
const pushManyCase = {
  name: 'pushMany(100), relaxed',
  items: N,
  setup: () => freshQueue('relaxed'),
  fn: async () => {
    for (let i = 0; i < N; i += 100) await q.pushMany(items.slice(i, i + 100));
  },
};
const fsyncEachCase = { name: 'write + fsync per item', items: STRICT / 4, setup: freshDir, fn: writeFsyncEach };
const strictCase = {
  name: '1 000 concurrent push, strict',
  items: STRICT,
  setup: () => freshQueue('strict'),
  fn: () => Promise.all(items.slice(0, STRICT).map((x) => q.push(x))),
};
const drainCase = {
  name: 'take(100) + ack, relaxed',
  items: N,
  setup: async () => {
    await freshQueue('relaxed');
    for (let i = 0; i < N; i += 1000) await q.pushMany(items.slice(i, i + 1000));
  },
  fn: async () => {
    for (let lease = await q.take(100); lease; lease = await q.take(100)) await lease.ack();
  },
};
// Each row's baseline runs right before it, pair by pair, so that both see the same load on a shared machine;
// the ratio is the median of the pairs' ratios.
const [raw, pushMany] = await paired(rawCase, pushManyCase);
const [fsyncEach, strict] = await paired(fsyncEachCase, strictCase);
const [drain] = await measure([drainCase]);
await q.close();

// A long queue: what opening it costs in time and memory.
freshDir();
const ONE_M = 1_000_000;
{
  const filler = await Queue.open({ name: 'long', store: new FileStore({ dir }) });
  for (let i = 0; i < ONE_M; i += 1000) await filler.pushMany(Array.from({ length: 1000 }, (_, j) => item(i + j)));
  await filler.close();
}
const opens = [];
const memory = [];
for (let run = 0; run < 5; run++) {
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const long = await Queue.open({ name: 'long', store: new FileStore({ dir }) });
  const size = await long.size();
  opens.push(performance.now() - started);
  const lease = await long.take(100);
  await lease.release();
  globalThis.gc?.();
  memory.push((process.memoryUsage().rss - before) / 2 ** 20);
  if (size !== ONE_M) throw new Error(`expected ${ONE_M} items, found ${size}`);
  await long.close();
}
rmSync(dir, { recursive: true, force: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const pct = (a) => `${(a.ratio * 100).toFixed(0)}%`;
const times = (a) => `${a.ratio.toFixed(1)}x`;
table('FileStore (medians of 5 runs; each ratio the median of 5 back-to-back baseline/FileStore pairs)', ['operation', 'items/s', 'baseline (same run)', 'baseline items/s', 'ratio', 'target'], [
  [pushMany.name, fmt(pushMany.rate), raw.name, fmt(raw.rate), pct(pushMany), '>= 50%'],
  [strict.name, fmt(strict.rate), fsyncEach.name, fmt(fsyncEach.rate), times(strict), '>= 20x'],
  [drain.name, fmt(drain.rate), '', '', '', ''],
  ['open a queue of 1 000 000 items', `${median(opens).toFixed(1)} ms`, '', '', '', '< 200 ms'],
  ['resident memory added by that open + take(100)', `${median(memory).toFixed(1)} MiB`, '', '', '', '< 64 MiB'],
]);
