import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrivenPage as Page } from '../browser/drive/index.mjs';
import { startBrowser, type ServedBrowser } from './browser-page.mjs';
import { eachEngine, skipLoudly } from './each-engine.js';

eachEngine('IndexedDbStore across tabs and workers', (engine) => {
  let browser: ServedBrowser;
  beforeAll(async () => {
    browser = await startBrowser(engine);
  }, 120_000);
  afterAll(() => browser?.close());

  it('two tabs pushing and draining one queue at once count every item exactly once', async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    const work = (page: Page, from: number) =>
      page.evaluate(
        async ({ from }) => {
          const { Queue, IndexedDbStore } = (globalThis as any).sluice;
          const q = await Queue.open({ name: 'tabs', store: new IndexedDbStore({ dbName: 'e2e-tabs' }), segmentItems: 64 });
          const pushing = (async () => {
            for (let i = 0; i < 500; i += 25) {
              await Promise.all(Array.from({ length: 20 }, (_, j) => q.push(from + i + j)));
              await q.pushMany(Array.from({ length: 5 }, (_, j) => from + i + 20 + j));
            }
          })();
          const acked: number[] = [];
          let idle = 0;
          // Drain until the queue has stayed empty a while after this tab's pushes finished.
          let done = false;
          void pushing.then(() => (done = true));
          while (idle < 40) {
            const lease = await q.take(10);
            if (lease) {
              acked.push(...lease.entries.map((e: { value: number }) => e.value));
              await lease.ack();
              idle = 0;
            } else {
              if (done) idle++;
              await new Promise((r) => setTimeout(r, 5));
            }
          }
          await pushing;
          await q.close();
          return acked;
        },
        { from },
      );
    const [fromA, fromB] = await Promise.all([work(a, 0), work(b, 10_000)]);
    const all = [...fromA, ...fromB].sort((x, y) => x - y);
    const expected = [...Array.from({ length: 500 }, (_, i) => i), ...Array.from({ length: 500 }, (_, i) => 10_000 + i)];
    expect(all).toEqual(expected);
    // Both tabs did real work: the queue was shared, not drained by one.
    expect(fromA.length).toBeGreaterThan(0);
    expect(fromB.length).toBeGreaterThan(0);
  }, 120_000);

  it('a page and a dedicated worker pushing and draining one queue at once count every item exactly once', async () => {
    const page = await browser.open();
    const counts = await page.evaluate(async () => {
      // Pushes 300 items from `from` (bursts and singles) while draining, until the queue stays empty after its own
      // pushes; resolves what it acked. The same source runs in the page and in the worker.
      const work = async (from: number) => {
        const { Queue, IndexedDbStore } = (globalThis as any).sluice;
        const q = await Queue.open({ name: 'worker', store: new IndexedDbStore({ dbName: 'e2e-worker' }), segmentItems: 50 });
        let pushed = false;
        const pushing = (async () => {
          for (let i = 0; i < 300; i += 10) {
            await Promise.all(Array.from({ length: 9 }, (_, j) => q.push(from + i + j)));
            await q.push(from + i + 9);
          }
          pushed = true;
        })();
        const acked: number[] = [];
        for (let idle = 0; idle < 40; ) {
          const lease = await q.take(7);
          if (lease) {
            acked.push(...lease.entries.map((e: { value: number }) => e.value));
            await lease.ack();
            idle = 0;
          } else {
            if (pushed) idle++;
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        await pushing;
        await q.close();
        return acked;
      };
      const source = `importScripts(${JSON.stringify(new URL('/sluice.js', location.href).href)});
        const work = ${work.toString()};
        onmessage = async (event) => postMessage(await work(event.data));`;
      const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
      const inWorker = new Promise<number[]>((resolve, reject) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.onerror = (event) => reject(new Error(event.message));
      });
      worker.postMessage(50_000);
      const [fromPage, fromWorker] = await Promise.all([work(0), inWorker]);
      worker.terminate();
      return { fromPage, fromWorker };
    }, undefined);
    const all = [...counts.fromPage, ...counts.fromWorker].sort((x, y) => x - y);
    expect(all).toEqual([...Array.from({ length: 300 }, (_, i) => i), ...Array.from({ length: 300 }, (_, i) => 50_000 + i)]);
    expect(counts.fromPage.length).toBeGreaterThan(0);
    expect(counts.fromWorker.length).toBeGreaterThan(0);
  }, 120_000);

  it('a closed tab\'s leases come back to the other tab (Web Locks tell it the owner is gone)', async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    await a.evaluate(async () => {
      const { Queue, IndexedDbStore } = (globalThis as any).sluice;
      const q = await Queue.open({ name: 'leases', store: new IndexedDbStore({ dbName: 'e2e-leases' }), leaseMs: 3_600_000 });
      await q.pushMany([1, 2, 3]);
      (globalThis as any).lease = await q.take(2);
    }, undefined);
    const before = await b.evaluate(async () => {
      const { Queue, IndexedDbStore } = (globalThis as any).sluice;
      const q = await Queue.open({ name: 'leases', store: new IndexedDbStore({ dbName: 'e2e-leases' }) });
      const lease = await q.take(10);
      await lease.release();
      await q.close();
      return lease.entries.map((e: { value: number }) => e.value);
    }, undefined);
    expect(before).toEqual([3]);
    await a.close();
    const after = await b.evaluate(async () => {
      const { Queue, IndexedDbStore } = (globalThis as any).sluice;
      const q = await Queue.open({ name: 'leases', store: new IndexedDbStore({ dbName: 'e2e-leases' }) });
      // The closed page's lock goes away as the page is torn down: give that a moment.
      for (let i = 0; i < 100; i++) {
        const lease = await q.take(10);
        if (lease?.entries.length === 3) {
          await q.close();
          return lease.entries.map((e: { value: number; attempts: number }) => [e.value, e.attempts]);
        }
        await lease?.release();
        await new Promise((r) => setTimeout(r, 50));
      }
      await q.close();
      return 'the leases never came back';
    }, undefined);
    // 1 and 2 come back from the closed tab (their second hand-out); 3 was handed out at least twice.
    expect((after as number[][]).map(([v]) => v)).toEqual([1, 2, 3]);
    expect((after as number[][]).slice(0, 2).map(([, attempts]) => attempts)).toEqual([2, 2]);
  }, 60_000);

  it('a tab that dies while pushing (holding the writer lock): the other tab commits next, and every push that resolved is there once', async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    await a.evaluate(async () => {
      const { Queue, IndexedDbStore } = (globalThis as any).sluice;
      const q = await Queue.open({ name: 'dies', store: new IndexedDbStore({ dbName: 'e2e-dies' }), segmentItems: 20 });
      const resolved: number[] = ((globalThis as any).resolved = []);
      void (async () => {
        for (let i = 0; ; i++) {
          await q.push(i);
          resolved.push(i);
        }
      })();
    }, undefined);
    let seen: number[] = [];
    for (let i = 0; i < 400 && seen.length < 50; i++) {
      seen = await a.evaluate(() => [...(globalThis as any).resolved], undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(seen.length).toBeGreaterThanOrEqual(50);
    await a.close();
    const after = await b.evaluate(async () => {
      const { Queue, IndexedDbStore } = (globalThis as any).sluice;
      const q = await Queue.open({ name: 'dies', store: new IndexedDbStore({ dbName: 'e2e-dies' }), segmentItems: 20 });
      await q.push(-1);
      const values: number[] = [];
      for (let lease = await q.take(100); lease; lease = await q.take(100)) {
        values.push(...lease.entries.map((e: { value: number }) => e.value));
        await lease.ack();
      }
      await q.close();
      return values;
    }, undefined);
    // Pushes that resolved after the last look may be there too, once; nothing is there twice, and b's push last.
    expect(new Set(after).size).toBe(after.length);
    for (const v of seen) expect(after).toContain(v);
    expect(after.at(-1)).toBe(-1);
    await b.close();
  }, 60_000);

  const stalledTitle = 'a tab that reads and then stops taking results (frozen, busy) holds up no other tab: its transaction commits without it';
  if (engine.name === 'webkit') skipLoudly(stalledTitle, engine, "WebKit ends a transaction only once its page takes the results, committed or not (it aborts a suspended process's instead)");
  else it(stalledTitle, async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    const open = `const { Queue, IndexedDbStore } = globalThis.sluice;
      globalThis.q ??= await Queue.open({ name: 'stalled', store: new IndexedDbStore({ dbName: 'e2e-stalled' }) });`;
    await a.evaluate(async (open) => {
      await new Function(`return (async () => { ${open} await q.push('a'); })()`)();
      // Past the writer lock's idle time: a holds no lock, only what it reads next.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }, open);
    await b.evaluate(async (open) => new Function(`return (async () => { ${open} })()`)(), open);
    // a begins a read of the queue, then its thread stays busy (as a frozen tab's stays still) for 4 s: the read's
    // transaction is issued first, its results wait for a.
    await a.evaluate(() => {
      void (globalThis as any).q.list();
      setTimeout(() => {
        const start = performance.now();
        while (performance.now() - start < 4000);
        (globalThis as any).busyUntil = performance.timeOrigin + performance.now();
      }, 0);
    }, undefined);
    const pushed = await b.evaluate(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await (globalThis as any).q.push('b');
      return performance.timeOrigin + performance.now();
    }, undefined);
    const busyUntil = await a.evaluate(() => (globalThis as any).busyUntil as number, undefined);
    // b's push (a readwrite transaction on what a reads) went through while a was still busy.
    expect(pushed).toBeLessThan(busyUntil);
    await a.close();
    await b.close();
  }, 60_000);

  it('a tab deleting the database: the tab with the queue open hears ERR_NOT_FOUND from its next call, and the database is not made again', async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    await a.evaluate(async () => {
      const { Queue, IndexedDbStore } = (globalThis as any).sluice;
      const q = await Queue.open({ name: 'gone', store: new IndexedDbStore({ dbName: 'e2e-deleted' }) });
      await q.push(1);
      (globalThis as any).q = q;
    }, undefined);
    const deleted = await b.evaluate(
      () =>
        new Promise<string>((resolve) => {
          const request = indexedDB.deleteDatabase('e2e-deleted');
          request.onsuccess = () => resolve('deleted');
          request.onerror = () => resolve(`error ${request.error?.name}`);
          request.onblocked = () => resolve('blocked');
        }),
      undefined,
    );
    expect(deleted).toBe('deleted');
    const after = await a.evaluate(async () => {
      const q = (globalThis as any).q;
      const code = await q.push(2).then(() => 'resolved', (error: { code?: string }) => error.code);
      const names = (await indexedDB.databases?.())?.map((d) => d.name) ?? [];
      await q.close().catch(() => undefined);
      return { code, remade: names.includes('e2e-deleted') };
    }, undefined);
    expect(after).toEqual({ code: 'ERR_NOT_FOUND', remade: false });
    await a.close();
    await b.close();
  }, 60_000);
  const restoredTitle =
    'a page back from the back/forward cache pushes after what another tab pushed meanwhile, and keeps its leases its own';
  if (engine.name !== 'webkit') {
    skipLoudly(restoredTitle, engine, 'the engine keeps no page that holds Web Locks in its back/forward cache');
  } else {
    it(restoredTitle, async () => {
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const [a, b] = await Promise.all([browser.open(), browser.open()]);
      // a pushes (holding the writer lock, which it keeps a while) and leaves; the page goes into the cache, where
      // WebKit lets its locks go. Left after the script has answered: a navigation loses an answer not yet polled.
      await a.evaluate(async () => {
        const { Queue, IndexedDbStore } = (globalThis as any).sluice;
        const q = await Queue.open({ name: 'cached', store: new IndexedDbStore({ dbName: 'e2e-cached' }) });
        (globalThis as any).q = q;
        addEventListener('pageshow', (event) => {
          if (event.persisted) (globalThis as any).pushed = q.push(3).then(() => 'pushed', String);
        });
        await q.push(0);
        setTimeout(async () => {
          await q.push(1);
          location.href = '/elsewhere';
        }, 300);
      }, undefined);
      await sleep(1_500);
      await b.evaluate(async () => {
        const { Queue, IndexedDbStore } = (globalThis as any).sluice;
        const q = await Queue.open({ name: 'cached', store: new IndexedDbStore({ dbName: 'e2e-cached' }) });
        await q.push(2);
        await q.close();
      }, undefined);
      await a.evaluate(() => void setTimeout(() => history.back(), 300), undefined);
      await sleep(1_500);
      let restored: { pushed: string; taken: number[] } | undefined;
      for (let i = 0; i < 5 && !restored; i++) {
        restored = await a
          .evaluate(async () => {
            const { q, pushed } = globalThis as any;
            if (!q) return { pushed: 'the page was loaded again, not restored', taken: [] };
            const lease = await q.take(1);
            return { pushed: await pushed, taken: lease.entries.map((e: { value: number }) => e.value) };
          }, undefined)
          .catch(() => sleep(500).then(() => undefined));
      }
      expect(restored).toEqual({ pushed: 'pushed', taken: [0] });
      const rest = await b.evaluate(async () => {
        const { Queue, IndexedDbStore } = (globalThis as any).sluice;
        const q = await Queue.open({ name: 'cached', store: new IndexedDbStore({ dbName: 'e2e-cached' }) });
        const values = (await q.take(10)).entries.map((e: { value: number }) => e.value);
        await q.close();
        return values;
      }, undefined);
      expect(rest).toEqual([1, 2, 3]);
      await a.close();
      await b.close();
    }, 60_000);
  }
});
