// Outbox over Node's fetch to a local server (in a child process, on the other core), each case against the bare
// fetch loop it must come near, measured in the same run: DESIGN.md's targets (#12, #9). Per-task cost must be
// flat in the backlog: 20 000 pending drain at the per-task rate of 1 000.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, median, table } from './lib.mjs';

const { MemoryStore, Outbox } = await import(process.env.SLUICE_DIST ?? '../dist/index.js');
if (typeof Outbox !== 'function') throw new TypeError('The built entry has no Outbox export: build first (npm run build).');
const { FileStore } = await import(process.env.SLUICE_DIST_FS ?? '../dist/fs.js');
// What a Node app keeps its outbox in, so that a killed process loses nothing: each case's outbox a fresh directory.
const dirs = mkdtempSync(join(tmpdir(), 'sluice-bench-outbox-'));
let fresh = 0;
const onDisk = () => new FileStore({ dir: join(dirs, String(fresh++)) });

const RUNS = Number(process.env.SLUICE_BENCH_RUNS ?? 5);
const body = { kind: 'note', text: 'x'.repeat(60) };

// A server that answers 200 to everything, draining request bodies; prints its port.
const serverSource = `
  const server = require('node:http').createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;
const child = spawn(process.execPath, ['-e', serverSource], { stdio: ['ignore', 'pipe', 'inherit'] });
const [chunk] = await once(child.stdout, 'data');
const base = `http://127.0.0.1:${String(chunk).trim()}`;

/** `count` POSTs, `inFlight` at a time, each made by `post(n)`, which reads its response to the end. */
async function fetchLoop(count, inFlight, post) {
  let next = 0;
  const worker = async () => {
    while (next < count) await post(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

/** The bare request: the least any outbox must do per task. */
async function barePost() {
  const res = await fetch(`${base}/task`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
}

/**
 * The request carrying what every task's must (the floor under any outbox on this fetch): an Idempotency-Key,
 * `redirect: 'manual'` (a redirect is judged, never followed blindly) and a time limit over the whole exchange (an
 * abort signal with its timer). On Node's fetch, 'manual' alone costs a copy of the request body per request.
 */
async function floorPost(n) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  const headers = { 'content-type': 'application/json', 'idempotency-key': `task-${n}` };
  const res = await fetch(`${base}/task`, { method: 'POST', headers, body: JSON.stringify(body), redirect: 'manual', signal: controller.signal });
  await res.arrayBuffer();
  clearTimeout(timer);
}

let outbox;
/** A fresh outbox holding `count` pending tasks, enqueued 100 at a time as an app would in small groups. */
const filled = (count, options = {}, store = () => new MemoryStore()) => async () => {
  await outbox?.close();
  outbox = await Outbox.open({ name: 'bench', store: store(), baseUrl: base, ...options });
  for (let i = 0; i < count; i += 100) await outbox.enqueueMany(Array.from({ length: Math.min(100, count - i) }, () => ({ url: '/task', body })));
};
const drain = (count) => async () => {
  const result = await outbox.flush();
  if (result.sent !== count) throw new RangeError(`expected ${count} sent, got ${JSON.stringify(result)}`);
};

const cases = {
  bare1: { name: 'bare fetch loop, 1 in flight', items: 1_000, fn: () => fetchLoop(1_000, 1, barePost) },
  floor1: { name: 'fetch loop with what each task needs, 1 in flight', items: 1_000, fn: () => fetchLoop(1_000, 1, floorPost) },
  default1k: { name: 'Outbox, default options (one group, in order), 1 000 pending', items: 1_000, setup: filled(1_000), fn: drain(1_000) },
  file1k: { name: 'Outbox on FileStore, default options, 1 000 pending', items: 1_000, setup: filled(1_000, {}, onDisk), fn: drain(1_000) },
  default20k: { name: 'Outbox, default options, 20 000 pending', items: 20_000, setup: filled(20_000), fn: drain(20_000) },
  bare4: { name: 'bare fetch loop, 4 in flight', items: 1_000, fn: () => fetchLoop(1_000, 4, barePost) },
  floor4: { name: 'fetch loop with what each task needs, 4 in flight', items: 1_000, fn: () => fetchLoop(1_000, 4, floorPost) },
  none4: { name: "Outbox, ordering 'none', concurrency 4, 1 000 pending", items: 1_000, setup: filled(1_000, { ordering: 'none', concurrency: 4 }), fn: drain(1_000) },
  fileNone4: {
    name: "Outbox on FileStore, ordering 'none', concurrency 4, 1 000 pending",
    items: 1_000,
    setup: filled(1_000, { ordering: 'none', concurrency: 4 }, onDisk),
    fn: drain(1_000),
  },
  batch: {
    name: "Outbox, batch of 100, ordering 'none', concurrency 4",
    items: 20_000,
    setup: filled(20_000, { ordering: 'none', concurrency: 4, batch: { url: '/batch', maxItems: 100 } }),
    fn: drain(20_000),
  },
};

// The machine is shared and its load drifts: the cases take turns within each run, each ratio is taken within one
// run, then the median over runs is reported. The first run warms up and is not counted.
const rates = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let run = -1; run < RUNS; run++) {
  for (const [key, c] of Object.entries(cases)) {
    await c.setup?.();
    const start = performance.now();
    await c.fn();
    const ms = performance.now() - start;
    if (run >= 0) rates[key].push((c.items / ms) * 1000);
  }
}
await outbox.close();
child.kill();
rmSync(dirs, { recursive: true, force: true });

const ratio = (a, b) => median(rates[a].map((r, k) => r / rates[b][k]));
const pct = (x) => `${(x * 100).toFixed(0)}%`;
const row = (key, vs, target, floor, shown = vs && pct(ratio(key, vs))) => [cases[key].name, fmt(median(rates[key])), shown ?? '', vs ? cases[vs].name : '', target, floor ? pct(ratio(key, floor)) : ''];
table(`Outbox over fetch to a local server (median of ${RUNS} runs, ratios within each run)`, ['case', 'tasks/s', 'ratio', 'against', 'target', 'of the floor'], [
  row('bare1', undefined, ''),
  row('floor1', 'bare1', 'the floor'),
  row('default1k', 'bare1', '>= 80%', 'floor1'),
  row('file1k', 'bare1', '>= 80%', 'floor1'),
  row('default20k', 'default1k', '>= 80%'),
  row('bare4', undefined, ''),
  row('floor4', 'bare4', 'the floor'),
  row('none4', 'bare4', '>= 80%', 'floor4'),
  row('fileNone4', 'bare4', '>= 80%', 'floor4'),
  row('batch', 'none4', '>= 20x', undefined, `${ratio('batch', 'none4').toFixed(1)}x`),
]);
