import { MemoryStore } from '../../src/index.js';
import type { StoreHarness } from '../conformance/harness.js';
import { modelConformance } from '../conformance/model-suite.js';
import { queueConformance } from '../conformance/queue-suite.js';
import { blobConformance } from '../conformance/blob-suite.js';
import { storageConformance } from '../conformance/storage-suite.js';
import { t } from './mocha.js';

const memory: StoreHarness = {
  async setup() {
    const store = new MemoryStore();
    return { open: () => store, teardown: async () => undefined };
  },
};

storageConformance(t, 'MemoryStore in a real browser', memory);
blobConformance(t, 'MemoryStore in a real browser', memory);
queueConformance(t, 'MemoryStore in a real browser', memory);
modelConformance(t, 'MemoryStore in a real browser', memory);
