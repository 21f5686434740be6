// What the processes of the outbox crash test share, named by strings a child process is given.
import { FileStore } from '../../dist/fs.js';

/**
 * The store: a directory (a FileStore), or a redis:// URL with a key prefix after '#' (a RedisStore whose owners are
 * judged gone 1 s after their last beat, so that what a killed process held goes back soon).
 */
export async function openStore(where) {
  if (!where.startsWith('redis://')) return new FileStore({ dir: where });
  const { RedisStore } = await import('../../dist/redis.js');
  const [url, prefix] = where.split('#');
  return new RedisStore({ url, prefix, ownerTtlMs: 1_000 });
}

/** The outbox's options for `mode`: an ordering ('group', 'none'), or batches of up to 20 ('batch', 'batch-group'). */
export function outboxOptions(mode, baseUrl, store) {
  const batched = mode.startsWith('batch');
  return {
    name: 'crash',
    store,
    baseUrl,
    ordering: mode === 'batch' ? 'none' : mode === 'batch-group' ? 'group' : mode,
    concurrency: 4,
    timeoutMs: 2_000,
    retry: { initialDelayMs: 10, maxDelayMs: 100 },
    ...(batched && { batch: { url: '/batch', maxItems: 20 } }),
  };
}
