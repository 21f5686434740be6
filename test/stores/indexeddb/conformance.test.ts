import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import type { StoreHarness } from '../../conformance/harness.js';
import { handlesConformance, partitionedHandlesConformance } from '../../conformance/handles-suite.js';
import { modelConformance } from '../../conformance/model-suite.js';
import { queueConformance } from '../../conformance/queue-suite.js';
import { blobConformance } from '../../conformance/blob-suite.js';
import { storageConformance } from '../../conformance/storage-suite.js';

/** A fresh IndexedDB per test (its own factory); every `open` is a new IndexedDbStore over it, as another tab's. */
export const indexedDb: StoreHarness = {
  async setup() {
    const factory = new IDBFactory();
    return {
      open: () => new IndexedDbStore({ indexedDB: factory }),
      teardown: async () => undefined,
    };
  },
};

const t = { describe, it, expect, beforeEach, afterEach };
storageConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
blobConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
queueConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
modelConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
handlesConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
partitionedHandlesConformance(t, 'IndexedDbStore over fake-indexeddb', indexedDb);
