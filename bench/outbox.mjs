// Outbox over Node's fetch to a local server (in a child process, on the other core): delivered tasks/s against a
// bare fetch loop at the same concurrency measured in the same run, and `batch` of 100 against one request per task.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fmt, table } from './lib.mjs';

const { MemoryStore, Outbox } = await import(process.env.SLUICE_DIST ?? '../dist/index.js');
if (typeof Outbox !== 'function') throw new TypeError('The built entry has no Outbox export: build first (npm run build).');

const N = 3_000;
const CONCURRENCY = 8;
const BATCHED = 20_000;
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

async function bareLoop(count) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const res = await fetch(`${base}/task`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

// Tasks are enqueued 100 at a time, as an app enqueues them in small groups: one enqueueMany of all of them would
// make a single segment, and a take walks its head segment from the start (see the report on Queue.take).
const enqueue = async (make, count) => {
  for (let i = 0; i < count; i += 100) await outbox.enqueueMany(Array.from({ length: Math.min(100, count - i) }, (_, j) => make(i + j)));
};

let outbox;
const filled = (count, extra = {}) => async () => {
  await outbox?.close();
  outbox = await Outbox.open({ name: 'bench', store: new MemoryStore(), baseUrl: base, concurrency: CONCURRENCY, ordering: 'none', ...extra });
  await enqueue(() => ({ url: '/task', body }), count);
};
const drain = (count) => async () => {
  const result = await outbox.flush();
  if (result.sent !== count) throw new RangeError(`expected ${count} sent, got ${JSON.stringify(result)}`);
};

const grouped = async () => {
  await outbox?.close();
  outbox = await Outbox.open({ name: 'bench', store: new MemoryStore(), baseUrl: base, concurrency: CONCURRENCY });
  await enqueue((i) => ({ url: '/task', body, group: `g${i % 8}` }), N);
};
const cases = [
  { name: `bare fetch loop, ${CONCURRENCY} in flight`, items: N, fn: () => bareLoop(N) },
  { name: `Outbox flush, ${CONCURRENCY} in flight (ordering 'none')`, items: N, setup: filled(N), fn: drain(N) },
  { name: `Outbox flush, ${CONCURRENCY} in flight (8 groups)`, items: N, setup: grouped, fn: drain(N) },
  { name: `Outbox flush, batch of 100, ${CONCURRENCY} in flight`, items: BATCHED, setup: filled(BATCHED, { batch: { url: '/batch', maxItems: 100 } }), fn: drain(BATCHED) },
];

// The machine is shared and its load drifts: the cases take turns within each run, and each ratio is taken within
// one run, then the median over runs is reported.
const RUNS = 5;
const rates = cases.map(() => []);
for (let run = -1; run < RUNS; run++) {
  for (const [i, c] of cases.entries()) {
    await c.setup?.();
    const start = performance.now();
    await c.fn();
    const ms = performance.now() - start;
    if (run >= 0) rates[i].push((c.items / ms) * 1000);
  }
}
await outbox.close();
child.kill();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratios = (i, j) => median(rates[i].map((r, k) => r / rates[j][k]));
const pct = (x) => `${(x * 100).toFixed(0)}%`;
table(`Outbox over fetch to a local server (median of ${RUNS} runs, ratios within each run)`, ['case', 'tasks/s', 'vs bare fetch loop', 'target'], [
  [cases[0].name, fmt(median(rates[0])), '100%', ''],
  [cases[1].name, fmt(median(rates[1])), pct(ratios(1, 0)), '>= 80%'],
  [cases[2].name, fmt(median(rates[2])), pct(ratios(2, 0)), ''],
  [cases[3].name, fmt(median(rates[3])), `${ratios(3, 1).toFixed(1)}x the unbatched outbox`, '>= 20x'],
]);
