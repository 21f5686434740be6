// A child process of bench/fs.mjs, so that what it measures starts from a fresh process:
//   drain <dir> <queue> <max> <durability> [partitions]: warms up on a queue of its own (so that what is measured is a process
//     that has run a while, not the compiler's first pass), opens the queue, says 'ready', drains it on 'go' with
//     take(max) + ack until nothing is left, then sends what it acked, how long each take+ack took, how long it
//     waited for and held the queue directory's lock (the store's 'sluice:fs:lock' diagnostics channel), and how
//     long it drained.
//   floor - <max> <durability>: the least any process sharing a queue does per take + ack, on the store's own lock
//     (`ProcessLock`: the same link/unlink, line, slices and wake-ups). Says 'ready'; at each `{ dir }` it is sent, takes
//     the lock, reads a shared count of items taken, adds up to `max` to it and appends a record of the take to a
//     shared log, gives the lock up, then takes it again for a record of the ack ('strict': each record fdatasync'd
//     before the lock is given up), until the count reaches what the file `items` says; then sends what it counted
//     and the take+ack times, and waits for the next directory ('exit': done).
//   open <dir> <queue>: opens the queue, reads its size, takes and releases 100 items, and sends how long the open
//     (with the size) took and how much resident memory the whole added.
import { subscribe } from 'node:diagnostics_channel';
import { closeSync, fdatasync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from '../dist/index.js';
import { FileStore } from '../dist/fs.js';
import { ProcessLock } from '../dist/stores/fs/lock.js';

const [mode, dir, name, max, durability, partitions = '1'] = process.argv.slice(2);

if (mode === 'open') {
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const q = await Queue.open({ name, store: new FileStore({ dir }) });
  const size = await q.size();
  const openMs = performance.now() - started;
  const lease = await q.take(100);
  await lease?.release();
  globalThis.gc?.();
  const addedMiB = (process.memoryUsage().rss - before) / 2 ** 20;
  await q.close();
  process.send({ size, openMs, addedMiB }, () => process.exit(0));
} else if (mode === 'floor') {
  // Kept for several rounds: each 'go' names a fresh directory, and the process says 'ready' again after its result.
  const [take, strict] = [Number(name), max === 'strict'];
  const floor = async (at) => {
    const total = Number(readFileSync(join(at, 'items'), 'utf8'));
    const lock = new ProcessLock(at, 10_000, 10_000, 0o600);
    const count = openSync(join(at, 'count'), 'r+');
    const log = openSync(join(at, 'log'), 'a');
    const synced = () => new Promise((resolve, reject) => fdatasync(log, (error) => (error ? reject(error) : resolve())));
    const record = async (op) => {
      writeSync(log, `${JSON.stringify({ op, at: Date.now(), pid: process.pid })}\n`);
      if (strict) await synced();
    };
    const held = async (fn) => {
      await lock.acquire();
      try {
        return await fn();
      } finally {
        lock.release();
      }
    };
    const buffer = Buffer.alloc(8);
    const values = [];
    const latencies = [];
    const started = performance.now();
    for (;;) {
      const begun = performance.now();
      const from = await held(async () => {
        readSync(count, buffer, 0, 8, 0);
        const first = Number(buffer.readBigUInt64LE());
        if (first >= total) return undefined;
        buffer.writeBigUInt64LE(BigInt(Math.min(total, first + take)));
        writeSync(count, buffer, 0, 8, 0);
        await record('take');
        return first;
      });
      if (from === undefined) break;
      await held(() => record('ack'));
      latencies.push(performance.now() - begun);
      for (let v = from; v < Math.min(total, from + take); v++) values.push(v);
    }
    const drainMs = performance.now() - started;
    closeSync(count);
    closeSync(log);
    lock.dispose();
    return { values, latencies, lockWaitMs: 0, lockHoldMs: 0, locks: 0, drainMs };
  };
  process.on('message', async (message) => {
    if (message === 'exit') process.exit(0);
    process.send(await floor(message.dir));
  });
  process.send({ ready: true });
} else {
  const take = Number(max);
  const values = [];
  const latencies = [];
  let lockWaitMs = 0;
  let lockHoldMs = 0;
  let locks = 0;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const warm = mkdtempSync(join(tmpdir(), 'sluice-bench-warm-'));
  try {
    const own = await Queue.open({ name: 'warm', store: new FileStore({ dir: warm }), durability });
    for (let i = 0; i < 10_000; i += 1000) await own.pushMany(Array.from({ length: 1000 }, (_, j) => ({ id: i + j, kind: 'note', text: 'x'.repeat(50) })));
    for (let lease = await own.take(take); lease; lease = await own.take(take)) await lease.ack();
    await own.close();
  } finally {
    rmSync(warm, { recursive: true, force: true });
  }
  const q = await Queue.open({ name, store: new FileStore({ dir }), durability, leaseMs: 120_000, partitions: Number(partitions) });
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  subscribe('sluice:fs:lock', ({ waitMs, holdMs }) => {
    lockWaitMs += waitMs;
    lockHoldMs += holdMs;
    locks++;
  });
  const started = performance.now();
  for (;;) {
    const begun = performance.now();
    const lease = await q.take(take);
    if (!lease) {
      // Nothing available: done when nothing is left at all, else others hold the rest for now.
      if ((await q.size()) === 0) break;
      await sleep(1);
      continue;
    }
    await lease.ack();
    latencies.push(performance.now() - begun);
    for (const e of lease.entries) values.push(e.value.id);
  }
  const drainMs = performance.now() - started;
  await q.close();
  process.send({ values, latencies, lockWaitMs, lockHoldMs, locks, drainMs }, () => process.exit(0));
}
