import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisStore, type RedisStoreOptions } from '../../src/redis.js';
import type { StoreHarness } from '../conformance/harness.js';
import { findRedisServer, findTool, redisRequired, redisSkipNotice, RedisServer, type RedisServerOptions } from './redis-server.js';

/**
 * `describe` for suites that need a real redis-server: one server of their own for the block (started before,
 * stopped after). Where redis-server is missing the block is skipped, loudly, or fails under SLUICE_REQUIRE_REDIS=1.
 */
export function describeRedis(name: string, fn: (server: () => RedisServer) => void, options: RedisServerOptions & { tools?: string[] } = {}): void {
  const missing = !findRedisServer() ? 'redis-server' : (options.tools ?? []).find((tool) => !findTool(tool));
  if (missing) {
    console.warn(redisSkipNotice(name, missing));
    if (redisRequired) {
      describe(name, () => {
        it(`needs ${missing} (SLUICE_REQUIRE_REDIS=1)`, () => {
          throw new Error(redisSkipNotice(name, missing));
        });
      });
    } else {
      describe.skip(name, () => fn(() => undefined as unknown as RedisServer));
    }
    return;
  }
  describe(name, () => {
    let server: RedisServer | undefined;
    beforeAll(async () => {
      server = await RedisServer.start(options);
    });
    afterAll(async () => {
      await server?.stop();
    });
    fn(() => server!);
  });
}

let places = 0;

/**
 * A fresh place per test: its own key prefix on the suite's server. Every `open` makes a new RedisStore with its own
 * connection, as another process would; `teardown` closes them all.
 */
export function redisHarness(url: () => string, extra: Partial<RedisStoreOptions> = {}): StoreHarness {
  return {
    async setup() {
      const prefix = `t${process.pid}.${places++}:`;
      const stores: RedisStore[] = [];
      return {
        open: () => {
          const store = new RedisStore({ url: url(), prefix, onWarning: () => undefined, ...extra });
          stores.push(store);
          return store;
        },
        teardown: async () => {
          await Promise.all(stores.map((store) => store.close()));
        },
      };
    },
  };
}
