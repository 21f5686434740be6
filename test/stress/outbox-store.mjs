// The store of the outbox crash test, named by a string a child process is given: a directory (a FileStore), or a
// redis:// URL with a key prefix after '#' (a RedisStore whose owners are judged gone 1 s after their last beat,
// so that what a killed process held goes back soon).
import { FileStore } from '../../dist/fs.js';

export async function openStore(where) {
  if (!where.startsWith('redis://')) return new FileStore({ dir: where });
  const { RedisStore } = await import('../../dist/redis.js');
  const [url, prefix] = where.split('#');
  return new RedisStore({ url, prefix, ownerTtlMs: 1_000 });
}
