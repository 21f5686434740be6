import type { Cluster, Redis } from 'ioredis';
import { describe, expectTypeOf, it } from 'vitest';
import type { Store } from '../../../src/index.js';
import { RedisStore, type RedisStoreOptions } from '../../../src/redis.js';

describe('sluice/redis public types', () => {
  it('RedisStore is a Store made from an ioredis Redis or Cluster, or a URL', () => {
    expectTypeOf<RedisStore>().toMatchTypeOf<Store>();
    expectTypeOf<RedisStoreOptions['client']>().toEqualTypeOf<Redis | Cluster | undefined>();
    expectTypeOf<RedisStoreOptions['url']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<RedisStoreOptions['onWarning']>().toEqualTypeOf<((message: string) => void) | undefined>();
    expectTypeOf<RedisStore['close']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<RedisStore['prefix']>().toBeString();
    // @ts-expect-error a port is not a client
    void (() => new RedisStore({ client: 6379 }));
  });
});
