import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/index.js';
import type { StoreHarness } from '../conformance/harness.js';
import { handlesConformance, partitionedHandlesConformance } from '../conformance/handles-suite.js';
import { modelConformance } from '../conformance/model-suite.js';
import { queueConformance } from '../conformance/queue-suite.js';
import { blobConformance } from '../conformance/blob-suite.js';
import { storageConformance } from '../conformance/storage-suite.js';

// Handles on one MemoryStore share its queues, as processes share a directory: "reopening" is a new handle on it.
const memory: StoreHarness = {
  async setup() {
    const store = new MemoryStore();
    return { open: () => store, teardown: async () => undefined };
  },
};

const t = { describe, it, expect, beforeEach, afterEach };
storageConformance(t, 'MemoryStore', memory);
blobConformance(t, 'MemoryStore', memory);
queueConformance(t, 'MemoryStore', memory);
modelConformance(t, 'MemoryStore', memory);
handlesConformance(t, 'MemoryStore', memory);
partitionedHandlesConformance(t, 'MemoryStore', memory);

describe('new MemoryStore()', () => {
  it('takes no options: one given (a FileStore\'s dir, say) is refused, not ignored', () => {
    expect(() => new (MemoryStore as new (options: unknown) => MemoryStore)({ dir: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('a MemoryStore takes none') }));
    expect(() => new (MemoryStore as new (options: unknown) => MemoryStore)(undefined)).not.toThrow();
  });
});
