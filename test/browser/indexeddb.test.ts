import { IndexedDbStore } from '../../src/indexeddb.js';
import type { StoreHarness } from '../conformance/harness.js';
import { modelConformance } from '../conformance/model-suite.js';
import { queueConformance } from '../conformance/queue-suite.js';
import { storageConformance } from '../conformance/storage-suite.js';
import { t } from './mocha.js';

let n = 0;
// Real IndexedDB in Chromium: a fresh database per test, each `open` a new connection to it (as another tab has).
const indexedDb: StoreHarness = {
  async setup() {
    const dbName = `sluice-browser-${Date.now()}-${n++}`;
    return {
      open: () => new IndexedDbStore({ dbName }),
      teardown: () =>
        new Promise<void>((resolve) => {
          const request = indexedDB.deleteDatabase(dbName);
          request.onsuccess = request.onerror = request.onblocked = () => resolve();
        }),
    };
  },
};

storageConformance(t, 'IndexedDbStore in Chromium', indexedDb);
queueConformance(t, 'IndexedDbStore in Chromium', indexedDb);
modelConformance(t, 'IndexedDbStore in Chromium', indexedDb);

t.describe('the browser entry', () => {
  t.it('Queue.open without a store keeps the queue in IndexedDB (database "sluice")', async () => {
    const { Queue } = await import('../../src/index.browser.js');
    const q = await Queue.open<number>({ name: `default-${Date.now()}` });
    await q.push(7);
    await q.close();
    const again = await Queue.open<number>({ name: q.name });
    t.expect(await again.peek()).toEqual([7]);
    await again.clear();
    await again.close();
  });
});
