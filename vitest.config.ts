import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { findRedisServer, redisRequired, redisSkipNotice } from './test/support/redis-server.js';

/** The Outbox suites that run on a RedisStore as well as on a MemoryStore (they open their store through `rig`). */
const outboxOnRedis = ['delivery', 'lifecycle', 'scheduling', 'bury-expired', 'tabs', 'bodies', 'bodies-recovery', 'partitions', 'open-queues'].map((name) => `test/outbox/${name}.test.ts`);

// Without redis-server the Redis project is left out, loudly; under SLUICE_REQUIRE_REDIS=1 it stays, and its setup
// fails the run.
const redis = findRedisServer() !== undefined || redisRequired;
if (!redis) console.warn(redisSkipNotice('the Outbox suites on RedisStore'));

// Projects: `node` and `outbox-on-redis` (npm run test:node), and `e2e`, the end-to-end tests that drive real
// browsers, which test/browser/run.mjs (npm run test:browser) runs once per engine beside web-test-runner.
// sluice's version where the CLI names it, as the build writes it in (see rollup.config.mjs).
const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  define: { __SLUICE_VERSION__: JSON.stringify(version) },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/browser/**', 'test/e2e/**', 'node_modules/**'] },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.e2e.test.ts'], hookTimeout: 120_000 },
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
