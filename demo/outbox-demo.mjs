// The outbox against a flaky local server: tasks are stored first, retried with backoff through 503s, a 429 with
// Retry-After and a dead server, survive a restart of the "app", and each arrives once per Idempotency-Key.
// Run with: npm run demo
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../dist/index.js';
import { FileStore } from '../dist/fs.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
const store = () => new FileStore({ dir });
const log = (...args) => console.log('  ', ...args);

// A server that fails on purpose: the first requests get 503, then one 429 asking for a pause, then it works.
const received = new Map();
let requests = 0;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    requests++;
    const key = req.headers['idempotency-key'];
    if (requests <= 3) return res.writeHead(503).end();
    if (requests === 4) return res.writeHead(429, { 'retry-after': '1' }).end();
    received.set(key, (received.get(key) ?? 0) + 1);
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${server.address().port}`;
const retry = { initialDelayMs: 50, maxDelayMs: 400 };

console.log('1. The app stores three notes in its outbox while the server is failing');
let outbox = await Outbox.open({ name: 'notes', store: store(), baseUrl, retry });
outbox.addEventListener('retry', (e) => log(`retry ${e.detail.task.body.text}: status ${e.detail.status ?? e.detail.error}, next try in ${Math.round(e.detail.delayMs)} ms`));
for (const text of ['buy milk', 'call mum', 'water plants']) await outbox.enqueue({ url: '/notes', body: { text } });
log('waiting to be sent:', await outbox.size());
const first = await outbox.flush();
log('first pass:', JSON.stringify(first));

console.log('2. The app "crashes" and restarts: retry state (attempts, next try) is on disk');
await outbox.close();
outbox = await Outbox.open({ name: 'notes', store: store(), baseUrl, retry });
log('still waiting:', await outbox.size());
outbox.addEventListener('sent', (e) => log(`sent ${e.detail.task.body.text} (attempt ${e.detail.attempts}, status ${e.detail.status})`));
outbox.addEventListener('retry', (e) => log(`retry ${e.detail.task.body.text}: status ${e.detail.status ?? e.detail.error}, next try in ${Math.round(e.detail.delayMs)} ms`));

console.log('3. Delivering in the background until drained');
const drained = new Promise((resolve) => outbox.addEventListener('drained', resolve, { once: true }));
outbox.start();
await drained;
const dead = await outbox.dead.size();
await outbox.close();
server.close();

log(`server saw ${requests} requests; each note arrived ${[...received.values()].join(', ')} time(s) by Idempotency-Key`);
log('dead letters:', dead);
rmSync(dir, { recursive: true, force: true });
console.log('Done: stored first, retried with backoff, nothing lost, nothing doubled.');
