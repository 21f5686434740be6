import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../../src/fs.js';
import type { StoreHarness } from '../../conformance/harness.js';
import { handlesConformance, partitionedHandlesConformance } from '../../conformance/handles-suite.js';
import { modelConformance } from '../../conformance/model-suite.js';
import { queueConformance } from '../../conformance/queue-suite.js';
import { blobConformance } from '../../conformance/blob-suite.js';
import { storageConformance } from '../../conformance/storage-suite.js';

/** A fresh temp directory per test; every `open` is a new FileStore over it, as a restarted process would make. */
export const files: StoreHarness = {
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fs-'));
    return { open: () => new FileStore({ dir }), teardown: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

const t = { describe, it, expect, beforeEach, afterEach };
storageConformance(t, 'FileStore', files);
blobConformance(t, 'FileStore', files);
queueConformance(t, 'FileStore', files);
modelConformance(t, 'FileStore', files);
handlesConformance(t, 'FileStore', files);
partitionedHandlesConformance(t, 'FileStore', files);
modelConformance(t, 'FileStore', files, { reopenEveryStep: true });
