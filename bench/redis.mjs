// RedisStore under several consumer processes, through a proxy that simulates a network round trip.
//
// One redis-server of its own (127.0.0.1, a temp dir, AOF with appendfsync everysec) behind a TCP proxy that delays
// each chunk (default 1 ms towards Redis, 0 ms back: a 1 ms round trip; Node's timers cannot wait less than 1 ms,
// so a 0.5 + 0.5 split would cost 2). N consumer processes (N = 1, 2, 4, 8) drain 100 000 items with take+ack:
// from one queue, from N independent queues, and, as a baseline, from a native Redis Stream with a consumer group
// (XREADGROUP + XACK, the least work a Redis queue can do), and from one queue of K = 8 partitions
// (Queue.open({ partitions: 8 })). Then the same over a FileStore directory. Every run checks exactly-once: each
// item acked once, none missing. Prints medians of several runs: items/s, and p50/p99 of one take+ack.
//
//   npm run bench:redis
//   BENCH_REDIS_ITEMS=100000 BENCH_REDIS_RUNS=3 BENCH_REDIS_TAKE=100 BENCH_REDIS_UP_MS=1 BENCH_REDIS_DOWN_MS=0
//   BENCH_REDIS_CONSUMERS=1,2,4,8 BENCH_REDIS_ONLY='K = 8' (only the scenarios whose name matches it, a regular
//   expression: '^N queues|Stream' runs N independent queues beside the Redis Streams baseline)
//   BENCH_REDIS_CALLS=1 (print the Redis commands each run made: e.g. commits tried beyond those that landed)
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Queue } from '../dist/index.js';
import { FileStore } from '../dist/fs.js';
import { RedisStore } from '../dist/redis.js';
import { TcpProxy } from '../test/support/tcp-proxy.mjs';
import { fmt, median, percentile, race, table } from './lib.mjs';

const ITEMS = Number(process.env.BENCH_REDIS_ITEMS ?? 100_000);
const RUNS = Number(process.env.BENCH_REDIS_RUNS ?? 3);
const TAKE = Number(process.env.BENCH_REDIS_TAKE ?? 100);
const UP_MS = Number(process.env.BENCH_REDIS_UP_MS ?? 1);
const DOWN_MS = Number(process.env.BENCH_REDIS_DOWN_MS ?? 0);
const CONSUMERS = (process.env.BENCH_REDIS_CONSUMERS ?? '1,2,4,8').split(',').map(Number);
// Only the scenarios whose name matches (e.g. "K = 8"), to look at one closely; with "|", a scenario and its baseline
// print in one run, and their ratio is what a noisy machine can compare.
const ONLY = new RegExp(process.env.BENCH_REDIS_ONLY ?? '');
const consumerScript = new URL('redis-consumer.mjs', import.meta.url).pathname;

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-redis-'));
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--logfile', ''], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  let log = '';
  server.stdout.on('data', (d) => (log += d) && log.includes('Ready to accept connections') && resolve());
  server.once('exit', (code) => reject(new Error(`redis-server exited (${code}): is it installed?\n${log}`)));
});
server.stdout.resume();
const direct = `redis://127.0.0.1:${port}`;
const proxy = await TcpProxy.start({ port }, { upMs: UP_MS, downMs: DOWN_MS });
const admin = new Redis(direct, { protocol: 2 });

/** The round trip through the proxy, as measured: median of 200 PINGs. */
async function roundTrip() {
  const client = new Redis(proxy.url);
  const times = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    await client.ping();
    times.push(performance.now() - started);
  }
  client.disconnect();
  return median(times);
}

let run = 0;

/** Fills `queues` with ITEMS items (0..ITEMS-1, split evenly), over a direct connection (or into a FileStore). */
async function fillQueues(prefix, queues, partitions = 1, store = new RedisStore({ url: direct, prefix, onWarning: () => undefined })) {
  const per = Math.ceil(ITEMS / queues.length);
  for (let k = 0; k < queues.length; k++) {
    // A pushMany goes to one partition; the partitions take the batches in turn.
    const q = await Queue.open({ name: queues[k], store, partitions });
    for (let from = k * per; from < Math.min(ITEMS, (k + 1) * per); from += 1000) {
      await q.pushMany(Array.from({ length: Math.min(1000, ITEMS - from, (k + 1) * per - from) }, (_, i) => from + i));
    }
    await q.close();
  }
  await store.close?.();
}

async function fillStream(key) {
  for (let from = 0; from < ITEMS; from += 1000) {
    const pipeline = admin.pipeline();
    for (let i = from; i < Math.min(ITEMS, from + 1000); i++) pipeline.xadd(key, '*', 'v', String(i));
    await pipeline.exec();
  }
  await admin.xgroup('CREATE', key, 'g', '0');
}

/** Starts the children, waits until all are connected, lets them go at once, and checks exactly-once. */
async function drain(argsOf, n) {
  const children = Array.from({ length: n }, (_, i) => fork(consumerScript, argsOf(i), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const { ms, latencies } = await race(children, ITEMS);
  return { rate: (ITEMS / ms) * 1000, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

const scenarios = {
  'one queue': async (n) => {
    const prefix = `b${run++}:`;
    await fillQueues(prefix, ['q']);
    return drain(() => ['sluice', proxy.url, prefix, 'q', String(TAKE)], n);
  },
  'N queues, one per consumer': async (n) => {
    const prefix = `b${run++}:`;
    const names = Array.from({ length: n }, (_, i) => `q${i}`);
    await fillQueues(prefix, names);
    return drain((i) => ['sluice', proxy.url, prefix, names[i], String(TAKE)], n);
  },
  'Redis Streams group (baseline)': async (n) => {
    const key = `stream${run++}`;
    await fillStream(key);
    return drain((i) => ['stream', proxy.url, key, `c${i}`, String(TAKE)], n);
  },
  'one queue, K = 8 partitions': async (n) => {
    const prefix = `b${run++}:`;
    await fillQueues(prefix, ['q'], 8);
    return drain(() => ['sluice', proxy.url, prefix, 'q', String(TAKE), '8'], n);
  },
};

/** The same on a FileStore directory of its own (no proxy: one machine's processes). */
const fileScenario = (queues, partitions) => async (n) => {
  const files = mkdtempSync(join(tmpdir(), 'sluice-bench-files-'));
  try {
    const names = queues === 'N' ? Array.from({ length: n }, (_, i) => `q${i}`) : ['q'];
    await fillQueues('', names, partitions, new FileStore({ dir: files }));
    return await drain((i) => ['file', files, '-', names[queues === 'N' ? i : 0], String(TAKE), String(partitions)], n);
  } finally {
    rmSync(files, { recursive: true, force: true });
  }
};
const fileScenarios = {
  'FileStore: one queue': fileScenario('1', 1),
  'FileStore: N queues, one per consumer': fileScenario('N', 1),
  'FileStore: one queue, K = 8 partitions': fileScenario('1', 8),
};

const rtt = await roundTrip();
console.log(`\n## RedisStore: ${ITEMS.toLocaleString('en-US')} items drained by N consumer processes with take(${TAKE}) + ack`);
console.log(`\nredis-server ${(await admin.info('server')).match(/redis_version:(\S+)/)[1]} on 127.0.0.1 (AOF, appendfsync everysec), behind a proxy adding ${UP_MS} ms up / ${DOWN_MS} ms down: PING round trip ${rtt.toFixed(2)} ms (median). Medians of ${RUNS} runs; every run checked exactly-once.`);
const rows = [];
for (const [name, scenario] of [...Object.entries(scenarios), ...Object.entries(fileScenarios)]) {
  if (!ONLY.test(name)) continue;
  for (const n of CONSUMERS) {
    const runs = [];
    for (let r = 0; r < RUNS; r++) {
      await admin.config('RESETSTAT');
      runs.push(await scenario(n));
      if (process.env.BENCH_REDIS_CALLS) console.error(name, n, (await admin.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat')).map((l) => l.replace(/,usec_per_call.*/, '')).join(' '));
      await admin.flushall();
    }
    rows.push([name, String(n), fmt(median(runs.map((x) => x.rate))), median(runs.map((x) => x.p50)).toFixed(2), median(runs.map((x) => x.p99)).toFixed(2), 'yes']);
    console.error(`  done: ${name}, N = ${n}`);
  }
}
// DESIGN.md's target: one queue of K = 8 partitions drained by 8 consumers at >= 40 000 items/s, >= 5x one partition.
const rate = (name, n) => Number(rows.find((r) => r[0] === name && r[1] === String(n))?.[2].replace(/,/g, '') ?? NaN);
const k8 = rate('one queue, K = 8 partitions', 8);
if (!Number.isNaN(k8)) console.log(`\nK = 8 with 8 consumers: ${fmt(k8)} items/s (target >= 40,000), ${(k8 / rate('one queue', 8)).toFixed(1)}x one partition with 8 consumers, ${(k8 / rate('one queue', 1)).toFixed(1)}x one consumer on one partition (target >= 5x).`);
table('Drain rate and take+ack latency', ['scenario', 'N consumers', 'items/s', 'p50 take+ack (ms)', 'p99 take+ack (ms)', 'exactly-once'], rows);

admin.disconnect();
await proxy.close();
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
rmSync(dir, { recursive: true, force: true });
