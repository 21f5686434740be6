// A process that the outbox crash test kills with SIGKILL at random moments.
// <store> and <mode> are as `openStore` and `outboxOptions` (outbox-setup.mjs) take them.
//   enqueue <store> <url> <mode> <from>: enqueues tasks t<from>, t<from+1>, … (alone and in groups, some with bodies
//                                        large enough to be stored beside their tasks); prints "enqueued N" once
//                                        the enqueue of N resolved.
//   deliver <store> <url> <mode>:        delivers in the background; prints "sent N" for each 'sent' event, which
//                                        comes once the task's ack is committed.
import { writeSync } from 'node:fs';
import { Outbox } from '../../dist/index.js';
import { openStore, outboxOptions } from './outbox-setup.mjs';

const [role, where, url, mode, from] = process.argv.slice(2);
const outbox = await Outbox.open(outboxOptions(mode, url, await openStore(where)));
// Synchronous: a line written to a pipe asynchronously may never leave a process killed right after.
const out = (line) => writeSync(1, `${line}\n`);
out('ready');

/** Task n: its body names it; one in ten is over 64 KiB, so it is stored beside the task in chunks. */
const task = (n) => ({
  id: `t${n}`,
  url: '/task',
  group: `g${n % 3}`,
  body: { n, pad: 'x'.repeat(n % 10 === 7 ? 70_000 : 20) },
});

if (role === 'enqueue') {
  let n = Number(from);
  for (;;) {
    const size = 1 + Math.floor(Math.random() * 8);
    const values = Array.from({ length: size }, () => n++);
    if (Math.random() < 0.4) {
      await outbox.enqueueMany(values.map(task));
      values.forEach((v) => out(`enqueued ${v}`));
    } else {
      await Promise.all(values.map((v) => outbox.enqueue(task(v)).then(() => out(`enqueued ${v}`))));
    }
  }
} else {
  outbox.addEventListener('sent', (e) => out(`sent ${e.detail.task.id.slice(1)}`));
  outbox.addEventListener('dead', (e) => out(`dead ${e.detail.task.id.slice(1)} ${e.detail.reason}`));
  outbox.start();
  // Background delivery does not keep a process alive by itself; this one lives until it is killed.
  setInterval(() => {}, 60_000);
}
