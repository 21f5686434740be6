import { defineConfig } from 'vitest/config';
import { findRedisServer, redisRequired, redisSkipNotice } from './test/support/redis-server.js';

/** The Outbox suites that run on a RedisStore as well as on a MemoryStore (they open their store through `rig`). */
const outboxOnRedis = ['delivery', 'lifecycle', 'scheduling', 'tabs'].map((name) => `test/outbox/${name}.test.ts`);

// Without redis-server the Redis project is left out, loudly; under SLUICE_REQUIRE_REDIS=1 it stays, and its setup
// fails the run.
const redis = findRedisServer() !== undefined || redisRequired;
if (!redis) console.warn(redisSkipNotice('the Outbox suites on RedisStore'));

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/browser/**', 'node_modules/**'] },
      },
      ...(redis
        ? [
            {
              extends: true,
              test: {
                name: 'outbox-on-redis',
                include: outboxOnRedis,
                globalSetup: ['test/support/redis-global-setup.ts'],
                env: { SLUICE_OUTBOX_STORE: 'redis' },
              },
            },
          ]
        : []),
    ],
  },
});
