// Kills pushing and consuming processes with SIGKILL at random moments and checks, after each kill, that the queue
// reopens holding every push that had resolved, in order, no corrupt item, nothing acked coming back.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from '../../dist/index.js';
import { FileStore } from '../../dist/fs.js';

const child = new URL('./fs-child.mjs', import.meta.url).pathname;

/**
 * Runs one worker until killed `afterMs` after it is under way (a pusher's first resolved push, a consumer's
 * 'ready'), or, `early`, after it was started (then the kill may land while it opens the queue and recovers it);
 * resolves with the lines it printed.
 */
function runAndKill(args, afterMs, early = false) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    if (early) setTimeout(() => proc.kill('SIGKILL'), afterMs);
    // A pusher's clock starts at its first resolved push, so that every round that is not early makes progress
    // however slow the machine (strict pushes wait for fsyncs); a consumer's at 'ready'.
    const started = args[0] === 'push' ? 'pushed' : 'ready';
    proc.stdout.on('data', (d) => {
      const first = !out.includes(started);
      out += d;
      if (!early && first && out.includes(started)) setTimeout(() => proc.kill('SIGKILL'), afterMs);
    });
    proc.stderr.on('data', (d) => (err += d));
    proc.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`worker exited with ${code} before it was killed: ${err}`));
      else resolve(out.split('\n'));
    });
  });
}

/**
 * `kills` rounds, alternating a pusher and a pusher+consumer pair, all killed at random moments. After each round
 * the queue is reopened as a new process would: every resolved push must be there (unless an ack of it had
 * started), in order, once, undamaged; nothing whose ack resolved may come back; and the items the killed consumer
 * held must be handed out again at once (their owner is gone), not after their 60 s lease. Returns figures; throws
 * on the first violation.
 */
export async function crashTest({ kills, durability = 'relaxed', maxMs = 150, log = () => {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
  const pushed = new Set();
  const acked = new Set();
  // Acks started: a worker killed mid-ack may or may not have removed these.
  const acking = new Set();
  let next = 0;
  let killsDone = 0;
  try {
    while (killsDone < kills) {
      const withConsumer = killsDone % 2 === 1;
      // The first pusher is never killed early: every test sees pushes resolve.
      const early = () => killsDone > 0 && Math.random() < 0.25;
      const afterMs = () => Math.floor(Math.random() * maxMs);
      const runs = [runAndKill(['push', dir, String(next), durability], afterMs(), early())];
      if (withConsumer) runs.push(runAndKill(['consume', dir, durability], afterMs(), early()));
      const outputs = await Promise.all(runs);
      killsDone += runs.length;
      for (const line of outputs.flat()) {
        const [word, value] = line.split(' ');
        if (word === 'pushed') pushed.add(Number(value));
        if (word === 'acked') acked.add(Number(value));
        if (word === 'acking') acking.add(Number(value));
      }
      // Reopen as a fresh process would, and check.
      const q = await Queue.open({ name: 'crash', store: new FileStore({ dir }), segmentItems: 50 });
      const items = (await q.list()).map((e) => e.value);
      const lease = await q.take(items.length + 1, { leaseMs: 60_000 });
      const redelivered = lease?.entries.map((e) => e.value) ?? [];
      await lease?.release();
      await q.close();
      if (redelivered.join() !== items.join()) {
        throw new Error(`not every unacked item was handed out again: ${items.length} in the queue, ${redelivered.length} taken`);
      }
      for (const v of items) {
        if (!Number.isInteger(v)) throw new Error(`corrupt item handed out: ${JSON.stringify(v)}`);
      }
      for (let i = 1; i < items.length; i++) {
        if (items[i] <= items[i - 1]) throw new Error(`out of order or doubled: ${items[i - 1]} then ${items[i]}`);
      }
      const present = new Set(items);
      for (const v of pushed) {
        if (!acking.has(v) && !present.has(v)) throw new Error(`lost: ${v} was pushed (resolved) and never acked`);
      }
      for (const v of acked) if (present.has(v)) throw new Error(`acked item ${v} came back`);
      // Values seen anywhere were pushed (a pusher killed right after its commit never printed them, but the
      // consumer may have taken and acked them): the next pusher starts past all of them, never pushing one twice.
      for (const v of [...items, ...pushed, ...acked, ...acking]) next = Math.max(next, v + 1);
      log(`kill ${killsDone}: ${pushed.size} pushed, ${acked.size} acked, ${items.length} in the queue`);
    }
    return { kills: killsDone, pushed: pushed.size, acked: acked.size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const kills = Number(process.argv[2] ?? 200);
  const durability = process.argv[3] ?? 'relaxed';
  const started = Date.now();
  const result = await crashTest({ kills, durability, log: (line) => process.stdout.write(`\r${line}   `) });
  console.log(`\n${result.kills} SIGKILLs (${durability}): ${result.pushed} pushes resolved, ${result.acked} acks resolved, nothing lost, doubled, corrupt or acked-and-back; ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
