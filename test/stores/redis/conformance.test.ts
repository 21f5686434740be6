import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handlesConformance, partitionedHandlesConformance } from '../../conformance/handles-suite.js';
import { modelConformance } from '../../conformance/model-suite.js';
import { queueConformance } from '../../conformance/queue-suite.js';
import { blobConformance } from '../../conformance/blob-suite.js';
import { storageConformance } from '../../conformance/storage-suite.js';
import { describeRedis, redisHarness } from '../../support/redis-suite.js';

const t = { describe, it, expect, beforeEach, afterEach };

describeRedis('RedisStore on a real redis-server', (server) => {
  const harness = redisHarness(() => server().url);
  storageConformance(t, 'RedisStore', harness);
  blobConformance(t, 'RedisStore', harness);
  queueConformance(t, 'RedisStore', harness);
  modelConformance(t, 'RedisStore', harness);
  handlesConformance(t, 'RedisStore', harness);
  partitionedHandlesConformance(t, 'RedisStore', harness);
  modelConformance(t, 'RedisStore', harness, { reopenEveryStep: true });
});
