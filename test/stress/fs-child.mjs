// A worker that the crash tests kill with SIGKILL at random moments.
//   push <dir> <from> <durability>: pushes from, from+1, … in bursts; prints "pushed N" once N is durable.
//   consume <dir> <durability>:     takes and acks; prints "acking N" before the ack of N starts and "acked N" once
//                                   it resolved.
import { writeSync } from 'node:fs';
import { Queue } from '../../dist/index.js';
import { FileStore } from '../../dist/fs.js';

const [mode, dir, a, b] = process.argv.slice(2);
const durability = (mode === 'push' ? b : a) ?? 'relaxed';
const q = await Queue.open({ name: 'crash', store: new FileStore({ dir }), durability, segmentItems: 50, leaseMs: 60_000 });
// Synchronous: a line written to a pipe asynchronously may never leave a process killed right after.
const out = (line) => writeSync(1, `${line}\n`);
out('ready');

if (mode === 'push') {
  let n = Number(a);
  for (;;) {
    const burst = [];
    const size = 1 + Math.floor(Math.random() * 20);
    if (Math.random() < 0.3) {
      const values = Array.from({ length: size }, () => n++);
      burst.push(q.pushMany(values).then(() => values.forEach((v) => out(`pushed ${v}`))));
    } else {
      for (let i = 0; i < size; i++) {
        const v = n++;
        burst.push(q.push(v).then(() => out(`pushed ${v}`)));
      }
    }
    await Promise.all(burst);
  }
} else {
  for (;;) {
    const lease = await q.take(1 + Math.floor(Math.random() * 10));
    if (!lease) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    // Ack some, release some: both must survive a kill at any point.
    const ack = lease.entries.filter(() => Math.random() < 0.8);
    for (const e of ack) out(`acking ${e.value}`);
    await lease.ack(ack.map((e) => e.id));
    for (const e of ack) out(`acked ${e.value}`);
    await lease.release();
  }
}
