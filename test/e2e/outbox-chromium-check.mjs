// The Outbox in real Chromium: Web Locks (one handle delivers), BroadcastChannel ('sent' reaches the other handle),
// a Request's bytes kept, fetch() network first. Run: node test/e2e/outbox-chromium-check.mjs (test/e2e/outbox-tabs.e2e.test.ts runs it)
import { createServer } from 'node:http';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { chromiumArgs, findChromium } from '../browser/find-chromium.mjs';

const root = new URL('../../', import.meta.url).pathname;
const bundle = await build({
  stdin: { contents: "export { Outbox } from './src/outbox/outbox.ts'; export { MemoryStore } from './src/stores/memory/memory-store.ts';", resolveDir: root, loader: 'ts' },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  write: false,
});
const code = bundle.outputFiles[0].text;

const received = [];
const server = createServer((req, res) => {
  if (req.url === '/sluice.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(code); }
  if (req.url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end('<!doctype html><title>t</title>'); }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    received.push({ path: req.url, key: req.headers['idempotency-key'], type: req.headers['content-type'], body: Buffer.concat(chunks).toString('hex') });
    res.writeHead(req.url === '/fail' ? 503 : 201, { 'content-type': 'application/json' });
    res.end('{"id":42}');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: findChromium() ?? '/usr/bin/chromium', args: chromiumArgs });
const page = await browser.newPage();
await page.goto(base + '/');
const result = await page.evaluate(async () => {
  const { Outbox, MemoryStore } = await import('/sluice.js');
  const store = new MemoryStore();
  const a = await Outbox.open({ name: 'api', store, baseUrl: location.origin });
  const b = await Outbox.open({ name: 'api', store, baseUrl: location.origin });
  const relayed = new Promise((resolve) => b.addEventListener('sent', (e) => resolve(e.detail)));
  a.start();
  await a.flush(); // a holds the Web Lock now
  const id = await b.enqueue(new Request(location.origin + '/bytes', { method: 'PUT', body: new Uint8Array([0, 1, 254, 255]), headers: { 'content-type': 'application/octet-stream' } }));
  const bFlush = await b.flush();
  const sentDetail = await relayed;
  await a.enqueue({ url: '/json', body: { hi: 1 } });
  await new Promise((r) => a.addEventListener('drained', r, { once: true }));
  const fetched = await a.fetch(location.origin + '/live', { method: 'POST', body: 'x' });
  await a.close();
  await b.close();
  return { id, bFlush, sentDetail: { remote: sentDetail.remote, id: sentDetail.task.id, status: sentDetail.status }, fetchedStatus: fetched.status, online: navigator.onLine, locks: !!navigator.locks };
});
const ok =
  result.bFlush.sent === 0 &&
  result.sentDetail.remote === true &&
  result.sentDetail.id === result.id &&
  received.some((r) => r.path === '/bytes' && r.key === result.id && r.body === '0001feff') &&
  received.some((r) => r.path === '/json' && r.body === Buffer.from('{"hi":1}').toString('hex')) &&
  result.fetchedStatus === 201;
console.log(JSON.stringify({ result, received: received.filter((r) => r.path !== '/favicon.ico') }, null, 1));
console.log(ok ? 'chromium check: ok' : 'chromium check: FAILED');
process.exitCode = ok ? 0 : 1;
await browser.close();
server.close();
