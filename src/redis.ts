export { RedisStore } from './stores/redis/redis-store.js';
export type { RedisStoreOptions } from './stores/redis/options.js';
