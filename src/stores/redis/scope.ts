import type { Cluster, Redis } from 'ioredis';
import { idOf } from '../../core/ids.js';
import type { ResolvedRedisOptions } from './options.js';

/**
 * A store's `scope`: the server and database its keys are on, and its prefix. Two stores of one prefix on two
 * databases or servers hold other queues: sharing a scope, an outbox's handles on one would take the other's news for
 * their own (a `remove()` there withdrew a task of the same id here, never sent nor dead). Read from the options, not
 * the connection: one server reached by two names is two scopes, whose handles then only do not hear each other. A
 * client without options (a stand-in of the app's) is scoped by its prefix alone.
 */
export function scopeOf({ url, client, prefix }: ResolvedRedisOptions): string {
  return `redis:${url === undefined ? clientServer(client!) : urlServer(url)}:${prefix}`;
}

function urlServer(url: string): string {
  const parsed = new URL(url);
  const db = parsed.pathname.slice(1) || parsed.searchParams.get('db') || '0';
  return `${parsed.hostname || 'localhost'}:${parsed.port || '6379'}/${db}`;
}

function clientServer(client: Redis | Cluster): string {
  // A Cluster client is told apart by the object: its nodes are its own to know.
  if (client.isCluster) return `cluster#${idOf(client)}`;
  // A client's own `keyPrefix` keeps its keys apart as a database does; Sentinel clients are their master's.
  const { path, host, port, db, keyPrefix, sentinels, name } = ((client as Redis).options ?? {}) as Partial<Redis['options']>;
  const server = sentinels ? `sentinel:${name ?? ''}` : (path ?? `${host ?? 'localhost'}:${port ?? 6379}`);
  return `${server}/${db ?? 0}${keyPrefix ? `/${keyPrefix}` : ''}`;
}
