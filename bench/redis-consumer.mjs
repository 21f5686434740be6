// One consumer process of bench/redis.mjs. Connects, says 'ready', drains on 'go', then sends what it acked and
// how long each take+ack took.
//   sluice <url> <prefix> <queue> <max> [partitions]:   Queue.take(max) + lease.ack() until the queue is empty
//   file <dir> - <queue> <max> [partitions]:             the same on a FileStore
//   stream <url> <key> <consumer> <max>:   XREADGROUP COUNT max + XACK until the stream has nothing new
import { Redis } from 'ioredis';
import { Queue } from '../dist/index.js';
import { FileStore } from '../dist/fs.js';
import { RedisStore } from '../dist/redis.js';

const [mode, url, a, b, max, partitions = '1'] = process.argv.slice(2);
const take = Number(max);
const values = [];
const latencies = [];
const go = () => new Promise((resolve) => process.once('message', resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (mode === 'sluice' || mode === 'file') {
  const store = mode === 'file' ? new FileStore({ dir: url }) : new RedisStore({ url, prefix: a, onWarning: () => undefined });
  const q = await Queue.open({ name: b, store, leaseMs: 120_000, partitions: Number(partitions) });
  process.send({ ready: true });
  await go();
  for (;;) {
    const started = performance.now();
    const lease = await q.take(take);
    if (!lease) {
      // Nothing available: done when nothing is left at all, else others hold the rest for now.
      if ((await q.size()) === 0) break;
      await sleep(2);
      continue;
    }
    await lease.ack();
    latencies.push(performance.now() - started);
    for (const e of lease.entries) values.push(e.value);
  }
  await q.close();
} else {
  const redis = new Redis(url, { protocol: 2 });
  await redis.ping();
  process.send({ ready: true });
  await go();
  for (;;) {
    const started = performance.now();
    const reply = await redis.xreadgroup('GROUP', 'g', b, 'COUNT', take, 'STREAMS', a, '>');
    if (!reply) break;
    const entries = reply[0][1];
    await redis.xack(a, 'g', ...entries.map(([id]) => id));
    latencies.push(performance.now() - started);
    for (const [, fields] of entries) values.push(Number(fields[1]));
  }
  redis.disconnect();
}
process.send({ values, latencies }, () => process.exit(0));
