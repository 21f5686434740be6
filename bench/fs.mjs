// FileStore against the least work any durable file queue must do, measured in the same run.
import { fork } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, fsyncSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Queue } from '../dist/index.js';
import { FileStore } from '../dist/fs.js';
import { fmt, measure, median, percentile, race, table } from './lib.mjs';

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

// FileStore shared by N consumer processes draining one queue; beside it, the same N processes each draining a queue
// of its own (nothing shared): what this machine allows N processes at all, measured in the same run.
const env = process.env;
const SHARED_ITEMS = { relaxed: Number(env.BENCH_FS_ITEMS ?? 50_000), strict: Number(env.BENCH_FS_STRICT_ITEMS ?? 20_000) };
// The bare hand-over does far less per item than the queue: over the queue's item count, one process is done in tens of
// milliseconds, and starting the N processes, and the last turn each takes to find nothing left, weigh as much as the
// hand-overs. Ten times the items make it last about as long as the queue's drain.
const FLOOR_SCALE = Number(env.BENCH_FS_FLOOR_SCALE ?? 10);
const SHARED_RUNS = Number(env.BENCH_FS_RUNS ?? 5);
const SHARED_TAKE = Number(env.BENCH_FS_TAKE ?? 100);
const PROCESSES = (env.BENCH_FS_PROCESSES ?? '1,2,4,8').split(',').map(Number);
const consumer = new URL('fs-consumer.mjs', import.meta.url).pathname;

/**
 * Fills the queues (one shared; one per process, `own`; or one of `n` partitions, `parts`), drains them with `n`
 * processes started together, and checks that each item was acked exactly once.
 */
async function drainBy(n, durability, layout = 'one') {
  freshDir();
  const total = SHARED_ITEMS[durability];
  const names = layout === 'own' ? Array.from({ length: n }, (_, k) => `own${k}`) : ['shared'];
  const partitions = layout === 'parts' ? n : 1;
  const per = Math.ceil(total / names.length);
  for (const [k, name] of names.entries()) {
    const filler = await Queue.open({ name, store: new FileStore({ dir }), partitions });
    for (let i = k * per; i < Math.min(total, (k + 1) * per); i += 1000) {
      await filler.pushMany(items.slice(0, Math.min(1000, total - i, (k + 1) * per - i)).map((x, j) => ({ ...x, id: i + j })));
    }
    await filler.close();
  }
  const children = Array.from({ length: n }, (_, k) =>
    fork(consumer, ['drain', dir, names[k % names.length], String(SHARED_TAKE), durability, String(partitions)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const { ms, done, latencies } = await race(children, total);
  const drainMs = done.reduce((sum, d) => sum + d.drainMs, 0);
  return {
    rate: (total / ms) * 1000,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    wait: done.reduce((sum, d) => sum + d.lockWaitMs, 0) / drainMs,
    held: done.reduce((sum, d) => sum + d.lockHoldMs, 0) / drainMs,
  };
}

/**
 * The floor: N processes taking turns on the store's own lock, doing per turn only the least file work of a take and
 * an ack (see 'floor' in fs-consumer.mjs), so that what the hand-over alone allows N processes is measured in the
 * same run. Its processes are started once per durability and kept, so that a measurement costs its drain alone.
 */
const floors = new Map();
async function floorBy(n, durability, items = SHARED_ITEMS[durability] * FLOOR_SCALE) {
  let children = floors.get(n);
  if (!children) {
    children = Array.from({ length: n }, () => fork(consumer, ['floor', '-', String(SHARED_TAKE), durability], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    for (const child of children) child.once('exit', (code) => code !== 0 && console.error(`floor process exited with ${code}`));
    floors.set(n, children);
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));
    // A first round, not measured: the compiler's first pass.
    await floorBy(n, durability, 2000);
  }
  freshDir();
  writeFileSync(join(dir, 'items'), String(items));
  writeFileSync(join(dir, 'count'), new Uint8Array(8));
  writeFileSync(join(dir, 'log'), '');
  const results = children.map((child) => new Promise((resolve) => child.once('message', resolve)));
  const started = performance.now();
  for (const child of children) child.send({ dir });
  const done = await Promise.all(results);
  const ms = performance.now() - started;
  const seen = new Uint8Array(items);
  for (const { values } of done) for (const v of values) seen[v]++;
  if (seen.some((times) => times !== 1)) throw new Error(`floor with ${n} processes: an item counted other than once`);
  return { rate: (items / ms) * 1000, p99: percentile(done.flatMap((d) => d.latencies), 0.99) };
}
const closeFloors = () => {
  for (const children of floors.values()) for (const child of children) child.send('exit');
  floors.clear();
};

const shared = [];
for (const durability of ['relaxed', 'strict']) {
  const runs = [];
  for (let run = 0; run < SHARED_RUNS; run++) {
    const byN = new Map();
    for (const n of PROCESSES) {
      const alone = n === 1;
      byN.set(n, {
        one: await drainBy(n, durability),
        own: alone ? undefined : await drainBy(n, durability, 'own'),
        parts: alone ? undefined : await drainBy(n, durability, 'parts'),
        floor: await floorBy(n, durability),
      });
    }
    runs.push(byN);
  }
  closeFloors();
  for (const n of PROCESSES) {
    const of = (pick) => median(runs.map((byN) => pick(byN.get(n).one)));
    // Ratios to one process in the same run: the machine's load changes between runs.
    const ratio = (pick) => median(runs.map((byN) => (pick(byN.get(n)) ?? NaN) / byN.get(1).one.rate));
    shared.push({
      durability,
      n,
      rate: of((r) => r.rate),
      ratio: ratio((r) => r.one.rate),
      ceiling: n === 1 ? 1 : ratio((r) => r.own?.rate),
      // Their take + ack latency: what N processes sharing nothing but the machine's CPUs see at the tail.
      ceilingP99: n === 1 ? of((r) => r.p99) : median(runs.map((byN) => byN.get(n).own.p99)),
      // Its own N = 1 in the same run: what the lock's hand-over alone leaves of one process's rate.
      floor: median(runs.map((byN) => byN.get(n).floor.rate / byN.get(1).floor.rate)),
      // Its take + ack latency: what waiting through the others' turns alone costs, with no queue work in them.
      floorP99: median(runs.map((byN) => byN.get(n).floor.p99)),
      parts: n === 1 ? undefined : { ratio: ratio((r) => r.parts?.rate), p99: median(runs.map((byN) => byN.get(n).parts.p99)) },
      p50: of((r) => r.p50),
      p99: of((r) => r.p99),
      wait: of((r) => r.wait),
      held: of((r) => r.held),
    });
  }
}

// A long queue: what opening it costs in time and memory, each open in a fresh process. Plain, and with every tenth
// item acked (by id, as consumers acking out of order leave it): the metadata then holds 100 000 acked ranges.
const ONE_M = 1_000_000;
const child = (args) =>
  new Promise((resolve, reject) => {
    const proc = fork(consumer, args, { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    proc.once('message', resolve);
    proc.once('exit', (code) => code !== 0 && reject(new Error(`bench child exited with ${code}`)));
  });
async function longQueue(scattered) {
  freshDir();
  const filler = await Queue.open({ name: 'long', store: new FileStore({ dir }) });
  for (let i = 0; i < ONE_M; i += 1000) await filler.pushMany(Array.from({ length: 1000 }, (_, j) => item(i + j)));
  if (scattered) for (let i = 0; i < ONE_M; i += 10_000) await filler.remove(Array.from({ length: 1000 }, (_, j) => String(i + j * 10)));
  await filler.close();
  const expected = scattered ? ONE_M - ONE_M / 10 : ONE_M;
  const runs = [];
  for (let run = 0; run < 5; run++) {
    const result = await child(['open', dir, 'long']);
    if (result.size !== expected) throw new Error(`expected ${expected} items, found ${result.size}`);
    runs.push(result);
  }
  return { open: median(runs.map((r) => r.openMs)), memory: median(runs.map((r) => r.addedMiB)) };
}
const plain = await longQueue(false);
const scattered = await longQueue(true);
rmSync(dir, { recursive: true, force: true });

const pct = (a) => `${(a.ratio * 100).toFixed(0)}%`;
const times = (a) => `${a.ratio.toFixed(1)}x`;
table('FileStore (medians of 5 runs; each ratio the median of 5 back-to-back baseline/FileStore pairs)', ['operation', 'items/s', 'baseline (same run)', 'baseline items/s', 'ratio', 'target'], [
  [pushMany.name, fmt(pushMany.rate), raw.name, fmt(raw.rate), pct(pushMany), '>= 50%'],
  [strict.name, fmt(strict.rate), fsyncEach.name, fmt(fsyncEach.rate), times(strict), '>= 20x'],
  [drain.name, fmt(drain.rate), '', '', '', ''],
  ['open a queue of 1 000 000 items', `${plain.open.toFixed(1)} ms`, '', '', '', '< 200 ms'],
  ['resident memory added by that open + take(100)', `${plain.memory.toFixed(1)} MiB`, '', '', '', '< 64 MiB'],
  ['open 1 000 000 items, every tenth acked', `${scattered.open.toFixed(1)} ms`, '', '', '', '< 200 ms'],
  ['resident memory added by that open + take(100)', `${scattered.memory.toFixed(1)} MiB`, '', '', '', '< 64 MiB'],
]);
const ms = (x) => x.toFixed(1);
const share = (x) => `${(x * 100).toFixed(0)}%`;
const cores = cpus().length;
table(
  `FileStore shared by N processes: ${SHARED_ITEMS.relaxed.toLocaleString('en-US')} items (strict: ${SHARED_ITEMS.strict.toLocaleString('en-US')}) ` +
    `drained with take(${SHARED_TAKE}) + ack, each process warmed up first on a queue of its own (medians of ${SHARED_RUNS} runs; ` +
    `every ratio to N = 1 of its own run; every run checked exactly-once; ${cores} CPUs, so N > ${cores} processes share them, ` +
    `as does whatever else the machine runs: "N own queues" is what N processes that share nothing reach here, in the same run; ` +
    `"bare hand-over" is N processes taking turns on the same lock doing only the least file work of a take and an ack per turn ` +
    `(over ${FLOOR_SCALE} times the items), of its own N = 1: what the lock allows N processes here; ` +
    `"N partitions" is one queue opened with \`partitions: N\` drained by the N processes, each taking from a partition of its own first)`,
  ['durability', 'N', 'items/s', 'of N = 1', 'N own queues, of N = 1', 'their p99', 'bare hand-over, of N = 1', 'its p99 take+ack', 'N partitions, of N = 1', 'its p99', 'p50 take+ack', 'p99 take+ack', 'waiting for the lock', 'holding it', 'target'],
  shared.map((r) => [
    r.durability,
    String(r.n),
    fmt(r.rate),
    share(r.ratio),
    share(r.ceiling),
    `${ms(r.ceilingP99)} ms`,
    share(r.floor),
    `${ms(r.floorP99)} ms`,
    r.parts ? share(r.parts.ratio) : '',
    r.parts ? `${ms(r.parts.p99)} ms` : '',
    `${ms(r.p50)} ms`,
    `${ms(r.p99)} ms`,
    share(r.wait),
    share(r.held),
    r.n === 4 ? '>= 70%, p99 <= 50 ms' : '',
  ]),
);
