// The outbox against a flaky local server: tasks are stored first, retried with backoff through 503s and a 429 with
// Retry-After, survive a restart of the "app", and each arrives once per Idempotency-Key. Then a
// backlog of 100 000 tasks drained in batches, with a progress bar on a terminal.
// Run with: npm run demo:node
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../dist/index.js';
import { FileStore } from '../dist/fs.js';
import { Progress } from './progress.mjs';

const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
const store = () => new FileStore({ dir });
const log = (...args) => console.log('  ', ...args);

// A server that fails on purpose: the first requests get 503, then one 429 asking for a pause, then it works.
// /batch takes a JSON array of many tasks' bodies at once (step 4).
const received = new Map();
let requests = 0;
let batched = 0;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    if (req.url === '/batch') {
      batched += JSON.parse(body).length;
      return res.writeHead(200).end();
    }
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
outbox.start();
await outbox.whenDrained();
const dead = await outbox.dead.size();
await outbox.close();

log(`server saw ${requests} requests; each note arrived ${[...received.values()].join(', ')} time(s) by Idempotency-Key`);
log('dead letters:', dead);

console.log('4. A backlog: 100 000 tasks stored while offline, then delivered 100 to a request (`batch`)');
const TASKS = 100_000;
const backlog = await Outbox.open({ name: 'events', store: store(), baseUrl, batch: { url: '/batch', maxItems: 100 } });
backlog.setOnline(false);
let started = Date.now();
for (let i = 0; i < TASKS; i += 1000) {
  await backlog.enqueueMany(Array.from({ length: 1000 }, (_, j) => ({ url: '/events', body: { n: i + j } })));
}
log(`stored ${await backlog.size()} tasks in ${Date.now() - started} ms`);
const progress = new Progress('   delivering', TASKS);
let sent = 0;
backlog.addEventListener('sent', () => progress.update(++sent));
started = Date.now();
backlog.setOnline(true);
backlog.start();
await backlog.whenDrained();
progress.done();
log(`delivered ${sent} tasks in ${Date.now() - started} ms; the server got ${batched} items in ${Math.ceil(batched / 100)} requests`);
await backlog.close();
server.close();

rmSync(dir, { recursive: true, force: true });
console.log('Done: stored first, retried with backoff, nothing lost, nothing doubled.');
