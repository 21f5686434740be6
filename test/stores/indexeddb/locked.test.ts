import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IndexedDbStore } from '../../../src/indexeddb.js';
import type { StoreHarness } from '../../conformance/harness.js';
import { modelConformance } from '../../conformance/model-suite.js';
import { queueConformance } from '../../conformance/queue-suite.js';
import { storageConformance } from '../../conformance/storage-suite.js';
import { FakeLockManager } from '../../support/fake-locks.js';

// The same suites as conformance.test.ts, with Web Locks (Node 20 has none: an in-process LockManager stands in),
// so every commit goes through the writer lock, as in browsers.
vi.stubGlobal('navigator', { locks: new FakeLockManager().context() });

const harness: StoreHarness = {
  async setup() {
    const factory = new IDBFactory();
    return { open: () => new IndexedDbStore({ indexedDB: factory }), teardown: async () => undefined };
  },
};

const t = { describe, it, expect, beforeEach, afterEach };
storageConformance(t, 'IndexedDbStore over fake-indexeddb, with Web Locks', harness);
queueConformance(t, 'IndexedDbStore over fake-indexeddb, with Web Locks', harness);
modelConformance(t, 'IndexedDbStore over fake-indexeddb, with Web Locks', harness);
