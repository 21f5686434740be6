// The IndexedDB benchmark as it runs inside a page (any engine): `installBench` is sent to the page as source and
// sets `globalThis.bench`, whose functions each measure one row. Everything here runs in the browser, so it may use
// only the page's globals and `globalThis.sluice` (the library, loaded by the page).

/**
 * Defines `globalThis.bench` in the page. `runs` timed runs per row, after one warm-up run; `sequentialRuns` for the
 * sequential row, whose runs are the shortest (a quarter of a second) and so the most shaken by the machine's load.
 */
export function installBench({ runs, sequentialRuns = runs }) {
  const { Queue, IndexedDbStore, MemoryStore } = globalThis.sluice;
  const item = (n) => ({ id: n, kind: 'note', text: 'x'.repeat(50), at: 1_700_000_000_000 + n });
  let dbCount = 0;
  const del = (name) =>
    new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = request.onerror = request.onblocked = resolve;
    });
  const req = (r) => new Promise((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))));
  const txDone = (tx) => new Promise((resolve, reject) => ((tx.oncomplete = resolve), (tx.onerror = tx.onabort = () => reject(tx.error))));
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

  // The baseline: what a queue without batching does (Workbox's background sync, for one), one record and one
  // readwrite transaction per item.
  const raw = async () => {
    const name = `raw-${Date.now()}-${dbCount++}`;
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('items', { autoIncrement: true });
    const db = await req(open);
    return { db, cleanup: async () => (db.close(), await del(name)) };
  };
  const putEach = (db, n) => {
    const tx = db.transaction('items', 'readwrite');
    tx.objectStore('items').put(item(n));
    return txDone(tx);
  };
  const queue = async (fill = 0) => {
    const dbName = `queue-${Date.now()}-${dbCount++}`;
    const q = await Queue.open({ name: 'bench', store: new IndexedDbStore({ dbName }) });
    for (let i = 0; i < fill; i += 500) await q.pushMany(Array.from({ length: 500 }, (_, j) => item(i + j)));
    return { q, cleanup: async () => (await q.close(), await del(dbName)) };
  };

  // The floors: what no store under this Queue can beat in this engine. The Queue's own work per item, on a
  // MemoryStore (no storage at all), and the storage's alone: one put of an item's bytes (about the size of one
  // framed item) under a chunk's key in one readwrite transaction, relaxed, as a push to the tail is.
  const memory = async () => {
    const q = await Queue.open({ name: 'bench', store: new MemoryStore() });
    return { q, cleanup: () => q.close() };
  };
  const chunks = async () => {
    const name = `chunks-${Date.now()}-${dbCount++}`;
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('chunks');
    const db = await req(open);
    return { db, bytes: new Uint8Array(90), cleanup: async () => (db.close(), await del(name)) };
  };
  const putChunk = ({ db, bytes }, n) => {
    const tx = db.transaction('chunks', 'readwrite', { durability: 'relaxed' });
    tx.objectStore('chunks').put(bytes, ['bench', 0, n * bytes.length]);
    tx.commit?.();
    return txDone(tx);
  };

  // Both floors in one loop: each push into a MemoryStore, then one such put, awaited. An awaited push into an
  // IndexedDbStore is exactly that (the Queue's work, then one put in one transaction), and in one loop the two cost
  // more than each alone added up (10-25% more per push, measured in all three engines): this is the floor such a
  // push can reach, where the sum above is one it cannot.
  const together = async () => {
    const [m, c] = await Promise.all([memory(), chunks()]);
    return { ...c, q: m.q, cleanup: async () => (await m.cleanup(), await c.cleanup()) };
  };

  // Each run times the baseline, the floors and the queue back to back, so that all see the same load (other
  // processes come and go on a shared machine); the first run of each is a warm-up. Resolves with each case's times
  // of the rest, in ms, run by run (see `ratioOf` in indexeddb.mjs).
  async function paired(items, count, ...cases) {
    const times = cases.map(() => []);
    for (let run = 0; run <= count; run++) {
      for (const [i, [setup, fn]] of cases.entries()) {
        const ctx = await setup();
        const t0 = performance.now();
        await fn(ctx);
        if (run > 0) times[i].push(performance.now() - t0);
        await ctx.cleanup();
      }
    }
    return { items, times };
  }

  // JS heap in use after a full collection, where the page can read it: Chromium launched with
  // --enable-precise-memory-info and --js-flags=--expose-gc. Firefox and WebKit show pages no heap size.
  const heap = () => {
    if (typeof globalThis.gc !== 'function' || !performance.memory) return undefined;
    globalThis.gc();
    return performance.memory.usedJSHeapSize;
  };

  globalThis.bench = {
    burst: (n) =>
      paired(
        n,
        runs,
        [raw, ({ db }) => Promise.all(Array.from({ length: n }, (_, i) => putEach(db, i)))],
        [memory, ({ q }) => Promise.all(Array.from({ length: n }, (_, i) => q.push(item(i))))],
        [() => queue(), ({ q }) => Promise.all(Array.from({ length: n }, (_, i) => q.push(item(i))))],
      ),
    sequential: (n) =>
      paired(
        n,
        sequentialRuns,
        [raw, async ({ db }) => { for (let i = 0; i < n; i++) await putEach(db, i); }],
        [chunks, async (ctx) => { for (let i = 0; i < n; i++) await putChunk(ctx, i); }],
        [memory, async ({ q }) => { for (let i = 0; i < n; i++) await q.push(item(i)); }],
        [together, async (ctx) => { for (let i = 0; i < n; i++) { await ctx.q.push(item(i)); await putChunk(ctx, i); } }],
        [() => queue(), async ({ q }) => { for (let i = 0; i < n; i++) await q.push(item(i)); }],
      ),
    drain: (n) =>
      paired(
        n,
        runs,
        [
          async () => {
            const r = await raw();
            const tx = r.db.transaction('items', 'readwrite');
            for (let i = 0; i < n; i++) tx.objectStore('items').put(item(i));
            await txDone(tx);
            return r;
          },
          async ({ db }) => {
            // The oldest item, then its delete in its own transaction: one item at a time.
            for (;;) {
              const tx = db.transaction('items', 'readwrite');
              const cursor = await req(tx.objectStore('items').openCursor());
              if (!cursor) break;
              cursor.delete();
              await txDone(tx);
            }
          },
        ],
        [() => queue(n), async ({ q }) => { for (let lease = await q.take(100); lease; lease = await q.take(100)) await lease.ack(); }],
      ),

    /** Fills one database with `n` items (pushMany of 1 000, a segment each); resolves with its name. */
    async fillLarge(n) {
      const dbName = `large-${Date.now()}`;
      const q = await Queue.open({ name: 'bench', store: new IndexedDbStore({ dbName }) });
      for (let i = 0; i < n; i += 1000) await q.pushMany(Array.from({ length: 1000 }, (_, j) => item(i + j)));
      const size = await q.size();
      await q.close();
      return { dbName, size };
    },

    /**
     * Opens the filled queue `runs` times (after a warm-up): the median time of `Queue.open` and the heap it adds
     * (held open, after a collection), beside the time of a bare `indexedDB.open` of the same database.
     */
    async openLarge(dbName) {
      const openMs = [];
      const added = [];
      const rawMs = [];
      for (let run = 0; run <= runs; run++) {
        let t0 = performance.now();
        const db = await req(indexedDB.open(dbName));
        const rawTime = performance.now() - t0;
        db.close();
        const before = heap();
        t0 = performance.now();
        const q = await Queue.open({ name: 'bench', store: new IndexedDbStore({ dbName }) });
        const openTime = performance.now() - t0;
        const after = heap();
        const size = await q.size();
        await q.close();
        if (size === 0) throw new Error('the large queue opened empty');
        if (run === 0) continue;
        openMs.push(openTime);
        rawMs.push(rawTime);
        if (before !== undefined) added.push(after - before);
      }
      await del(dbName);
      return { openMs: median(openMs), rawOpenMs: median(rawMs), addedBytes: added.length ? median(added) : null };
    },
  };
}
