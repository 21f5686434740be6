// A tour of the Queue on the in-memory store: push, lease, crash-like abandonment, redelivery, acks.
// Run with: npm run demo:node
import { MemoryStore, Queue } from '../dist/index.js';

const store = new MemoryStore();
const log = (...args) => console.log('  ', ...args);

console.log('1. Three pushes started together are stored in one commit');
const worker = await Queue.open({ name: 'emails', store, leaseMs: 200 });
await Promise.all(['ada@example.test', 'bob@example.test', 'cy@example.test'].map((to) => worker.push({ to })));
log('size:', await worker.size());

console.log('2. A worker takes two and "crashes" before acking (it never closes)');
const lost = await worker.take(2);
log('taken:', lost.entries.map((e) => e.value.to).join(', '));

console.log('3. A second handle sees only what is not leased');
const rescuer = await Queue.open({ name: 'emails', store, leaseMs: 200 });
log('available now:', (await rescuer.peek(10)).map((v) => v.to).join(', '));

console.log('4. Once the lease runs out, the items come back, attempts counted');
await new Promise((r) => setTimeout(r, 250));
const again = await rescuer.take(10);
for (const e of again.entries) log(`${e.value.to}: attempt ${e.attempts}`);
await again.ack();
log('size after ack:', await rescuer.size());

await rescuer.close();
console.log('Done: nothing was lost, and the abandoned items were delivered again.');
