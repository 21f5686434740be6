import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import type { StoreHarness } from '../../conformance/harness.js';
import { modelConformance } from '../../conformance/model-suite.js';
import { queueConformance } from '../../conformance/queue-suite.js';
import { storageConformance } from '../../conformance/storage-suite.js';

let n = 0;
/** A fresh database per test; every `open` is a new IndexedDbStore (a new connection) over it, as another tab's. */
export const indexedDb: StoreHarness = {
  async setup() {
    const dbName = `sluice-test-${n++}`;
    return {
      open: () => new IndexedDbStore({ dbName }),
      teardown: async () => {
        await new Promise((resolve) => {
          const request = indexedDB.deleteDatabase(dbName);
          request.onsuccess = request.onerror = request.onblocked = resolve;
        });
      },
    };
  },
};

const t = { describe, it, expect, beforeEach, afterEach };
storageConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
queueConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
modelConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
