// Run by test/package/package.test.ts in a project that installed the packed tarball (and ioredis, the optional peer
// of sluice/redis): every entry imports in Node,
// and a queue round-trips through the FileStore directory given as the first argument.
import * as core from 'sluice';
import * as fs from 'sluice/fs';
import * as indexeddb from 'sluice/indexeddb';
import * as sw from 'sluice/sw';
import * as redis from 'sluice/redis';

const q = await core.Queue.open({ name: 'jobs', store: new fs.FileStore({ dir: process.argv[2] }) });
await q.push({ n: 1 });
const lease = await q.take();
await lease.ack();
await q.push({ n: 2 });
await q.close();

const names = (module) => Object.keys(module).sort();
console.log(JSON.stringify({ sluice: names(core), 'sluice/fs': names(fs), 'sluice/indexeddb': names(indexeddb), 'sluice/sw': names(sw), 'sluice/redis': names(redis), taken: lease.entries.map((e) => e.value) }));
