import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import type { StoreHarness } from '../../conformance/harness.js';
import { queueConformance } from '../../conformance/queue-suite.js';
import { blobConformance } from '../../conformance/blob-suite.js';
import { storageConformance } from '../../conformance/storage-suite.js';
import { RedisCluster } from '../../support/redis-cluster.js';
import { describeRedis } from '../../support/redis-suite.js';

const t = { describe, it, expect, beforeEach, afterEach };

describeRedis('RedisStore on a 3-node Redis Cluster', () => {
  let cluster: RedisCluster;
  const clients: Cluster[] = [];
  const client = () => {
    const c = new Cluster(cluster.startupNodes);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  let places = 0;
  /** Each `open` is a new store over a Cluster client of its own, as another process's. */
  const harness: StoreHarness = {
    async setup() {
      const prefix = `c${places++}:`;
      const stores: RedisStore[] = [];
      return {
        open: () => {
          const store = new RedisStore({ client: client(), prefix, onWarning: () => undefined });
          stores.push(store);
          return store;
        },
        teardown: async () => {
          await Promise.all(stores.map((s) => s.close()));
        },
      };
    },
  };
  storageConformance(t, 'RedisStore (Cluster)', harness);
  blobConformance(t, 'RedisStore (Cluster)', harness);
  queueConformance(t, 'RedisStore (Cluster)', harness);

  it('several queues spread over the nodes: every item pushed by several processes is taken and acked exactly once', async () => {
    const admin = client();
    // Two queue names per node, found by asking the cluster where each name's hash tag lands.
    const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const portOf = (slot: number) => slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
    const byNode = new Map<number, string[]>();
    for (let i = 0; [...byNode.values()].flat().length < 6; i++) {
      const name = `orders-${i}`;
      const port = portOf(Number(await admin.cluster('KEYSLOT', `spread:{${name}}:v`)));
      const names = byNode.get(port) ?? [];
      if (names.length < 2) byNode.set(port, [...names, name]);
    }
    expect(byNode.size).toBe(3);
    const names = [...byNode.values()].flat();

    const producerStores = [0, 1].map(() => new RedisStore({ client: client(), prefix: 'spread:', onWarning: () => undefined }));
    const consumerStores = [0, 1].map(() => new RedisStore({ client: client(), prefix: 'spread:', onWarning: () => undefined }));
    const PER_PRODUCER = 120;
    const taken = new Map<string, number[]>(names.map((name) => [name, []]));
    await Promise.all(
      names.map(async (name) => {
        const producers = await Promise.all(producerStores.map((store) => Queue.open<number>({ name, store, segmentItems: 32 })));
        const consumers = await Promise.all(consumerStores.map((store) => Queue.open<number>({ name, store, segmentItems: 32 })));
        const total = PER_PRODUCER * producers.length;
        const got = taken.get(name)!;
        const iterating = (async () => {
          // One consumer waits on pub/sub (across the cluster's nodes), the other polls with take.
          for await (const lease of consumers[0]!.iterate({ max: 7 })) {
            got.push(...lease.entries.map((e) => e.value));
            await lease.ack();
            if (got.length >= total) break;
          }
        })();
        const taking = (async () => {
          while (got.length < total) {
            const lease = await consumers[1]!.take(5);
            if (!lease) {
              await new Promise((resolve) => setTimeout(resolve, 5));
              continue;
            }
            got.push(...lease.entries.map((e) => e.value));
            await lease.ack();
          }
        })();
        await Promise.all(
          producers.map(async (q, p) => {
            for (let i = 0; i < PER_PRODUCER; ) {
              const values = Array.from({ length: Math.min(1 + (i % 5), PER_PRODUCER - i) }, (_, k) => p * 10_000 + i + k);
              i += values.length;
              await (values.length === 1 ? q.push(values[0]!) : q.pushMany(values));
            }
          }),
        );
        await taking;
        await Promise.race([iterating, consumers[0]!.close()]);
        await Promise.all([...producers, ...consumers].map((q) => q.close()));
      }),
    );
    for (const name of names) {
      const got = taken.get(name)!;
      const expected = [0, 1].flatMap((p) => Array.from({ length: PER_PRODUCER }, (_, i) => p * 10_000 + i));
      expect([...got].sort((a, b) => a - b)).toEqual(expected);
    }
    // The queues' keys really are on all three nodes.
    for (const node of cluster.nodes) {
      const direct = new Redis(node.url);
      expect((await direct.keys('spread:*')).length).toBeGreaterThan(0);
      direct.disconnect();
    }
    await Promise.all([...producerStores, ...consumerStores].map((s) => s.close()));
  }, 60_000);

  it("a queue's partitions spread over the nodes; two handles drain it exactly once", async () => {
    const stores = [0, 1, 2].map(() => new RedisStore({ client: client(), prefix: 'parts:', onWarning: () => undefined }));
    const K = 6;
    const queues = await Promise.all(stores.map((store) => Queue.open<{ key: string; n: number }>({ name: 'orders', store, partitions: K })));
    const [producer, ...consumers] = queues as [(typeof queues)[0], ...typeof queues];
    const TOTAL = 300;
    for (let n = 0; n < TOTAL; n += 3) {
      const items = [0, 1, 2].map((i) => ({ key: `k${(n + i) % 10}`, n: n + i }));
      await Promise.all(items.map((item) => producer.push(item, { key: item.key })));
    }
    const got: { key: string; n: number }[] = [];
    await Promise.all(
      consumers.map(async (q) => {
        for (let lease = await q.take(9); lease; lease = await q.take(9)) {
          got.push(...lease.entries.map((e) => e.value));
          await lease.ack();
        }
      }),
    );
    expect(got.map((i) => i.n).sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, n) => n));
    // The partitions' hash tags ({orders}, {orders.p1}, …) land on every node of the cluster.
    const admin = client();
    const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const portOf = (slot: number) => slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
    const names = Array.from({ length: K }, (_, p) => (p === 0 ? 'orders' : `orders.p${p}`));
    const ports = new Set(await Promise.all(names.map(async (name) => portOf(Number(await admin.cluster('KEYSLOT', `parts:{${name}}:v`))))));
    expect(ports.size).toBe(3);
    await Promise.all(queues.map((q) => q.close()));
    await Promise.all(stores.map((s) => s.close()));
  }, 60_000);

  it("durability 'strict' with replicas: WAIT runs behind the commit on the queue's node", async () => {
    const warnings: string[] = [];
    const store = new RedisStore({ client: client(), prefix: 'strict:', replicas: 1, replicaTimeoutMs: 50, onWarning: (m) => warnings.push(m) });
    const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
    // This cluster has no replicas: the commit lands on the queue's primary, and WAIT there says nobody confirmed it.
    await expect(q.push(1)).rejects.toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/only 0 of 1 replicas/) });
    expect(warnings).toEqual([expect.stringMatching(/asks 1 replicas to confirm each commit, but only 0 are connected/)]);
    const relaxed = await Queue.open<number>({ name: 'q', store: new RedisStore({ client: client(), prefix: 'strict:', onWarning: () => undefined }) });
    expect(await relaxed.peek()).toEqual([1]);
    await relaxed.close();
    await q.close();
    await store.close();
  });
}, { tools: ['redis-cli'] });
