import { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';
import { expect, it } from 'vitest';
import { Watches } from '../../../src/stores/redis/watch.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The pub/sub side of RedisStore, without a server: what wakes a consumer waiting for commits.

it("a Cluster's watchers are woken at each check: a subscriber on a node that hung (no message, no error) leaves no consumer asleep", async () => {
  // A Cluster subscriber whose node hangs: subscribed, ready, and silent for good.
  const subscriber = Object.assign(new EventEmitter(), { isCluster: true, status: 'ready', subscribe: async () => 1, unsubscribe: async () => 1, quit: async () => 'OK', disconnect: () => undefined });
  const watches = new Watches(() => subscriber as unknown as Cluster, () => undefined, 100, 50);
  let wakes = 0;
  watches.add('sluice:{q}:w', 'me', () => wakes++);
  await sleep(10);
  const subscribed = wakes;
  await sleep(180);
  expect(wakes - subscribed).toBeGreaterThanOrEqual(2);
  await watches.close();
});

it('closing wakes the watchers still there once (consumers of queues left open as their store closes, which nothing else would wake)', async () => {
  const subscriber = Object.assign(new EventEmitter(), { status: 'ready', subscribe: async () => 1, unsubscribe: async () => 1, quit: async () => 'OK', disconnect: () => undefined, ping: async () => 'PONG' });
  const watches = new Watches(() => subscriber as unknown as Cluster, () => undefined, 100, 60_000);
  let wakes = 0;
  watches.add('sluice:{q}:w', 'me', () => wakes++);
  await sleep(10);
  const subscribed = wakes;
  await watches.close();
  expect(wakes - subscribed).toBe(1);
  await sleep(20);
  expect(wakes - subscribed).toBe(1);
});
