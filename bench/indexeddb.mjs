// IndexedDbStore in Chromium, Firefox and WebKit, one engine after the other (so that they do not share the CPU),
// each row against raw IndexedDB measured in the same page and run; one table across engines.
// `node bench/indexeddb.mjs [engine…]` narrows the engines (as SLUICE_ENGINES does).
import { findEngines } from '../test/browser/engines.mjs';
import { startBrowser } from '../test/e2e/browser-page.mjs';
import { installBench } from './indexeddb-page.mjs';
import { fmt, median, table } from './lib.mjs';

const RUNS = 5;
const SEQUENTIAL_RUNS = 11;
const BURST = 5_000;
const SEQUENTIAL = 500;
const DRAIN = 5_000;
const LARGE = 1_000_000;
const MiB = 1024 * 1024;

/** Case `i` of a paired row (see `paired` in the page): its median rate in items/s. */
const rateOf = ({ items, times }, i) => (items / median(times[i])) * 1000;
/**
 * Case `i`'s rate over case `of`'s, as the median of the runs' own ratios (each the same run's times, taken back to
 * back): a slow moment of the machine in one case's run is then never set against a quiet one in another's.
 */
const ratioOf = ({ times }, i, of = 0) => median(times[i].map((ms, run) => times[of][run] / ms));

const only = process.argv.slice(2);
const engines = findEngines().filter((engine) => only.length === 0 || only.includes(engine.name));

const rows = [];
const floors = [];
for (const engine of engines) {
  if (engine.missing) {
    console.log(`\nSKIPPED: the IndexedDB benchmark in ${engine.label}: ${engine.missing}.`);
    rows.push([engine.label, ...Array(4).fill(`skipped: ${engine.label} not found`)]);
    floors.push([engine.label, ...Array(4).fill('skipped')]);
    continue;
  }
  const t0 = Date.now();
  // Chromium shows the page its heap (precisely, and after a collection it can ask for); the others show none.
  // Firefox driven over WebDriver BiDi makes the page a debuggee, and captures an async stack at every await of a
  // debuggee (javascript.options.asyncstack_capture_debuggee_only): 10-20 µs more per push, which a user's page,
  // no debuggee, never pays. Turned off, the page runs as it does for users.
  const firefoxPrefs = { 'javascript.options.asyncstack': false };
  const browser = await startBrowser(engine, { launch: { chromiumArgs: ['--enable-precise-memory-info', '--js-flags=--expose-gc'], firefoxPrefs } });
  try {
    const page = await browser.open();
    await page.evaluate(installBench, { runs: RUNS, sequentialRuns: SEQUENTIAL_RUNS });
    const burst = await page.evaluate((n) => globalThis.bench.burst(n), BURST);
    const sequential = await page.evaluate((n) => globalThis.bench.sequential(n), SEQUENTIAL);
    const drain = await page.evaluate((n) => globalThis.bench.drain(n), DRAIN);
    const filled = await page.evaluate((n) => globalThis.bench.fillLarge(n), LARGE);
    if (filled.size !== LARGE) throw new Error(`the large queue holds ${filled.size} items, not ${LARGE}`);
    const large = await page.evaluate((name) => globalThis.bench.openLarge(name), filled.dbName);

    // The queue is each row's last case, the baseline its first.
    const ratio = (row, target) => {
      const last = row.times.length - 1;
      return `${ratioOf(row, last).toFixed(1)}x (${fmt(rateOf(row, last))} vs ${fmt(rateOf(row, 0))} items/s; target ${target})`;
    };
    const memory =
      large.addedBytes === null ? `memory n/a: ${engine.label} shows pages no heap size` : `+${(large.addedBytes / MiB).toFixed(1)} MiB (target < 64 MiB)`;
    rows.push([
      engine.label,
      ratio(burst, '>= 20x'),
      ratio(sequential, '>= 1.0x'),
      ratio(drain, '>= 20x'),
      `${large.openMs.toFixed(0)} ms (target < 200 ms; bare indexedDB.open ${large.rawOpenMs.toFixed(0)} ms), ${memory}`,
    ]);
    // The best any store could do: the Queue's cost per item added to the storage's alone.
    // Sequential cases: the baseline, the put alone, a push into a MemoryStore, the two in one loop, the queue.
    const memoryBurst = rateOf(burst, 1);
    const [putAlone, memorySequential, together] = [1, 2, 3].map((i) => rateOf(sequential, i));
    const usPerPush = (rate) => `${(1e6 / rate).toFixed(0)} µs`;
    const best = 1 / (1 / putAlone + 1 / memorySequential);
    floors.push([
      engine.label,
      `${ratioOf(burst, 1).toFixed(1)}x (${fmt(memoryBurst)} items/s; ${usPerPush(memoryBurst)} of the Queue's own work per item)`,
      `${ratioOf(sequential, 1).toFixed(1)}x (${fmt(putAlone)} items/s)`,
      `${usPerPush(memorySequential)} per push; with the put alone: at best ${(best / rateOf(sequential, 0)).toFixed(1)}x (${fmt(best)} items/s)`,
      `${ratioOf(sequential, 3).toFixed(2)}x (${fmt(together)} items/s); the queue's push: ${ratioOf(sequential, 4, 3).toFixed(2)}x of it`,
    ]);
    console.error(`bench: ${engine.label} measured in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await browser.close();
  }
}

table(
  `IndexedDbStore by engine: queue vs raw IndexedDB in the same page and run (medians of ${RUNS} runs, ${SEQUENTIAL_RUNS} of the sequential pushes, baseline, floors and queue timed back to back in each; each ratio the median of the runs' own)`,
  [
    'engine',
    `${fmt(BURST)} concurrent push vs one readwrite transaction per item`,
    `${SEQUENTIAL} sequential awaited push vs one transaction per item, awaited`,
    `drain ${fmt(DRAIN)}: take(100) + ack vs one delete transaction per item`,
    `open a ${fmt(LARGE)}-item queue: time, heap added`,
  ],
  rows,
);

table(
  'Floors in the same runs, as ratios to the same baselines: what no IndexedDbStore can beat in each engine',
  [
    'engine',
    `${fmt(BURST)} concurrent push into a MemoryStore (the Queue alone)`,
    'one put of an item\'s bytes per relaxed transaction, awaited (the storage alone)',
    'the Queue\'s own work per awaited push (MemoryStore), and the two added up',
    'the two in one loop: a push into a MemoryStore, then that put, awaited',
  ],
  floors,
);
