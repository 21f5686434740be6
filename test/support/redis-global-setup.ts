import type { TestProject } from 'vitest/node';
import { findRedisServer, redisSkipNotice, RedisServer } from './redis-server.js';

/** For the 'outbox-on-redis' project: one redis-server for the run, its URL provided as `sluiceRedisUrl`. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!findRedisServer()) throw new Error(redisSkipNotice('the Outbox suites on RedisStore'));
  const server = await RedisServer.start();
  project.provide('sluiceRedisUrl', server.url);
  return () => server.stop();
}
