// IndexedDbStore in real Chromium, each row against its baseline measured in the same page and run.
import { findEngine } from '../test/browser/engines.mjs';
import { startBrowser } from '../test/e2e/browser-page.mjs';
import { fmt, table } from './lib.mjs';

const chromium = findEngine('chromium');
if (chromium.missing) {
  console.log('\n### IndexedDbStore in Chromium\n\nSKIPPED: no Chromium found (CHROME_PATH, /usr/bin/chromium, …).');
  process.exit(0);
}
const browser = await startBrowser(chromium);
const page = await browser.open();
const rows = await page.evaluate(async () => {
  const { Queue, IndexedDbStore } = globalThis.sluice;
  const RUNS = 5;
  const item = (n) => ({ id: n, kind: 'note', text: 'x'.repeat(50), at: 1_700_000_000_000 + n });
  let dbCount = 0;
  const del = (name) => new Promise((r) => { const q = indexedDB.deleteDatabase(name); q.onsuccess = q.onerror = q.onblocked = r; });
  const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  const txDone = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = tx.onabort = () => reject(tx.error); });
  // The baseline: what Workbox's background sync does, one record and one readwrite transaction per item.
  async function rawDb() {
    const name = `raw-${dbCount++}`;
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('items', { autoIncrement: true });
    return { db: await req(open), name };
  }
  const putEach = (db, n) => { const tx = db.transaction('items', 'readwrite'); tx.objectStore('items').put(item(n)); return txDone(tx); };
  // Each run times the baseline and then the queue, back to back, so that both see the same machine load (other
  // processes come and go on a shared box); the first run of each is a warm-up. Medians of the rest.
  async function paired(baseline, subject) {
    const times = [[], []];
    for (let run = 0; run < RUNS + 1; run++) {
      for (const [i, [setup, fn]] of [baseline, subject].entries()) {
        const ctx = await setup();
        const t0 = performance.now();
        await fn(ctx);
        if (run > 0) times[i].push(performance.now() - t0);
        await ctx.cleanup?.();
      }
    }
    return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
  }
  const raw = async () => { const r = await rawDb(); return { ...r, cleanup: async () => { r.db.close(); await del(r.name); } }; };
  const queue = async (fill = 0) => {
    const dbName = `queue-${dbCount++}`;
    const q = await Queue.open({ name: 'bench', store: new IndexedDbStore({ dbName }) });
    for (let i = 0; i < fill; i += 500) await q.pushMany(Array.from({ length: 500 }, (_, j) => item(i + j)));
    return { q, cleanup: async () => { await q.close(); await del(dbName); } };
  };

  const CONCURRENT = 5000;
  const SEQUENTIAL = 500;
  const DRAIN = 5000;
  const out = {};
  const rate = (n, [baseline, subject]) => [(n / baseline) * 1000, (n / subject) * 1000];
  [out.concurrentRaw, out.concurrentQueue] = rate(CONCURRENT, await paired(
    [raw, ({ db }) => Promise.all(Array.from({ length: CONCURRENT }, (_, n) => putEach(db, n)))],
    [() => queue(), ({ q }) => Promise.all(Array.from({ length: CONCURRENT }, (_, n) => q.push(item(n))))],
  ));
  [out.sequentialRaw, out.sequentialQueue] = rate(SEQUENTIAL, await paired(
    [raw, async ({ db }) => { for (let n = 0; n < SEQUENTIAL; n++) await putEach(db, n); }],
    [() => queue(), async ({ q }) => { for (let n = 0; n < SEQUENTIAL; n++) await q.push(item(n)); }],
  ));
  [out.drainRaw, out.drainQueue] = rate(DRAIN, await paired(
    [async () => {
      const r = await raw();
      const tx = r.db.transaction('items', 'readwrite');
      for (let n = 0; n < DRAIN; n++) tx.objectStore('items').put(item(n));
      await txDone(tx);
      return r;
    }, async ({ db }) => {
      // Read the oldest, then delete it in its own transaction: one item at a time.
      for (;;) {
        const tx = db.transaction('items', 'readwrite');
        const cursor = await req(tx.objectStore('items').openCursor());
        if (!cursor) break;
        cursor.delete();
        await txDone(tx);
      }
    }],
    [() => queue(DRAIN), async ({ q }) => {
      for (let lease = await q.take(100); lease; lease = await q.take(100)) await lease.ack();
    }],
  ));
  return out;
});
await browser.close();

const x = (a, b) => `${(a / b).toFixed(1)}x`;
table('IndexedDbStore in Chromium (median of 5 runs, each run timing the baseline and the queue back to back in one page)', ['operation', 'items/s', 'baseline', 'baseline items/s', 'ratio', 'target'], [
  ['5 000 concurrent push', fmt(rows.concurrentQueue), 'one readwrite transaction per item', fmt(rows.concurrentRaw), x(rows.concurrentQueue, rows.concurrentRaw), '>= 20x'],
  ['500 sequential awaited push', fmt(rows.sequentialQueue), 'one transaction per item, awaited', fmt(rows.sequentialRaw), x(rows.sequentialQueue, rows.sequentialRaw), '>= 1x'],
  ['drain: take(100) + ack', fmt(rows.drainQueue), 'one delete transaction per item', fmt(rows.drainRaw), x(rows.drainQueue, rows.drainRaw), '>= 20x'],
]);
