import type { Redis } from 'ioredis';
import { SluiceError } from '../../core/errors.js';
import { storageError } from '../../core/storage-errors.js';

/** ioredis's `Redis`, once `loadIoredis` loaded it. */
let ioredis: { readonly Redis: typeof Redis } | undefined;

/**
 * Loads ioredis as a store makes a client of its own: `sluice/redis` may be imported where the optional peer
 * dependency is not installed (a store given a `client` never needs it), and a missing one is told in words that say
 * what to do, not as a module Node could not find. (A dynamic import bundlers follow, as they do a static one.)
 */
export async function loadIoredis(): Promise<void> {
  try {
    ioredis ??= await import('ioredis');
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String(message).includes("'ioredis'");
    if (!missing) throw storageError(error, 'RedisStore could not load ioredis:');
    throw new SluiceError('ERR_STORAGE', 'RedisStore needs the ioredis package to connect to its `url`: install it (npm install ioredis), or pass a `client` of your own.', { cause: error });
  }
}

/** ioredis's `Redis` class: only once `loadIoredis` resolved (a store's own client is made only after it). */
export function ioredisClient(): typeof Redis {
  return ioredis!.Redis;
}
