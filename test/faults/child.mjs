// A process that the fault trials kill with SIGKILL in the middle of a commit. It opens the queue with
// durability 'strict' and a sync that never returns from its `hangAt`-th call: it then holds the queue's lock,
// its commit half done, and says "hang" so that the trial kills it there. Every line is written synchronously: a
// line written to a pipe asynchronously may never leave a process killed right after.
//   node child.mjs <dir> <hangAt> <segmentItems> <ops as JSON>
//   ops: ["push", [values]] | ["pushMany", [values]] | ["take", max, ackEvery]
// Prints "pushed v" once a push resolved, "taken v", "acking v" before an ack starts, "acked v" once it resolved,
// "event <json>" for each recover or corrupt event, "done" when every op finished.
import { fdatasync, fsync, writeSync } from 'node:fs';
import { Queue } from '../../dist/index.js';
import { FileStore } from '../../dist/fs.js';

const [dir, hangAtArg, segmentItemsArg, opsArg] = process.argv.slice(2);
const out = (line) => writeSync(1, `${line}\n`);
let calls = 0;
const hangAt = Number(hangAtArg);
const wrap = (fn) => (fd) => {
  if (++calls === hangAt) {
    out('hang');
    return new Promise(() => {});
  }
  return new Promise((resolve, reject) => fn(fd, (error) => (error ? reject(error) : resolve())));
};
const store = new FileStore({ dir, lockTimeoutMs: 2000, sync: { fsync: wrap(fsync), fdatasync: wrap(fdatasync) } });
const q = await Queue.open({ name: 'q', store, durability: 'strict', segmentItems: Number(segmentItemsArg), corruption: 'skip' });
let reported = 0;
const report = () => {
  for (; reported < q.recovered.length; reported++) out(`event ${JSON.stringify({ type: 'recover', ...q.recovered[reported] })}`);
};
q.addEventListener('corrupt', (event) => out(`event ${JSON.stringify({ type: 'corrupt', ...event.detail })}`));
report();
for (const op of JSON.parse(opsArg)) {
  try {
    if (op[0] === 'push') {
      await Promise.all(op[1].map((v) => q.push(v).then(() => out(`pushed ${v}`))));
    } else if (op[0] === 'pushMany') {
      await q.pushMany(op[1]);
      for (const v of op[1]) out(`pushed ${v}`);
    } else {
      const lease = await q.take(op[1]);
      report();
      if (!lease) continue;
      for (const e of lease.entries) out(`taken ${e.value} ${e.id}`);
      const acking = lease.entries.filter((_, i) => i % op[2] === 0);
      for (const e of acking) out(`acking ${e.value}`);
      await lease.ack(acking.map((e) => e.id));
      for (const e of acking) out(`acked ${e.value}`);
    }
  } catch (error) {
    out(`error ${error.code ?? error.message}`);
  }
  report();
}
out('done');
await q.close();
