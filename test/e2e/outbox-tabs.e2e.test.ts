import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBrowser, type ServedBrowser } from './browser-page.mjs';
import { eachEngine } from './each-engine.js';

interface Received {
  path: string | undefined;
  method: string | undefined;
  key: string | undefined;
  type: string | undefined;
  body: string;
}

eachEngine('Outbox across tabs', (engine) => {
  let browser: ServedBrowser;
  const received: Received[] = [];
  // The first request to each /api/hang… path the server holds unanswered (the others are answered).
  const hanging = new Map<string, ServerResponse>();

  beforeAll(async () => {
    // Every request under /api/ is recorded and answered 201 with a small JSON body, except the first to each /api/hang….
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.startsWith('/api/')) return false;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const [key, type] = [req.headers['idempotency-key'], req.headers['content-type']] as (string | undefined)[];
        received.push({ path: req.url, method: req.method, key, type, body: Buffer.concat(chunks).toString('hex') });
        if (req.url?.startsWith('/api/hang') && !hanging.has(req.url)) return void hanging.set(req.url, res);
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":42}');
      });
      return true;
    };
    browser = await startBrowser(engine, { handle });
  }, 120_000);
  afterAll(async () => {
    for (const res of hanging.values()) res.destroy();
    await browser?.close();
  });

  it('one tab delivers (Web Lock), the other only enqueues and hears the sent event (BroadcastChannel); a Request keeps its bytes', async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    // Tab a starts delivering and so holds the outbox's lock.
    await a.evaluate(async () => {
      const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
      const outbox = await Outbox.open({ name: 'api', store: new IndexedDbStore({ dbName: 'e2e-outbox-tabs' }), baseUrl: location.origin });
      outbox.start();
      await outbox.flush();
      (globalThis as any).outbox = outbox;
    });
    const fromB = await b.evaluate(async () => {
      const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
      const outbox = await Outbox.open({ name: 'api', store: new IndexedDbStore({ dbName: 'e2e-outbox-tabs' }), baseUrl: location.origin });
      const relayed = new Promise<any>((resolve) => outbox.addEventListener('sent', (e: CustomEvent) => resolve(e.detail)));
      const request = new Request(`${location.origin}/api/bytes`, {
        method: 'PUT',
        body: new Uint8Array([0, 1, 254, 255]),
        headers: { 'content-type': 'application/octet-stream' },
      });
      const id = await outbox.enqueue(request);
      const flushed = await outbox.flush();
      const sent = await Promise.race([relayed, new Promise((resolve) => setTimeout(() => resolve('no sent event within 20 s'), 20_000))]);
      await outbox.close();
      return { id, flushed, sent: typeof sent === 'string' ? sent : { remote: sent.remote, id: sent.task.id, status: sent.status } };
    });
    // b's flush sent nothing: a holds the lock, and it delivered b's task.
    expect(fromB.flushed.sent).toBe(0);
    expect(fromB.sent).toEqual({ remote: true, id: fromB.id, status: 201 });
    expect(received.filter((r) => r.key === fromB.id)).toEqual([
      { path: '/api/bytes', method: 'PUT', key: fromB.id, type: 'application/octet-stream', body: '0001feff' },
    ]);
    await a.evaluate(() => (globalThis as any).outbox.close());
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  // Both tabs know the task before it is taken: b stores it, a (which delivers) takes it. The next test is the order
  // where a tab first reads the task while another holds it.
  it('a tab that closes mid-request hands its task to a running tab, which sends it again with the same Idempotency-Key', async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    const open = async () => {
      const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
      const outbox = await Outbox.open({ name: 'takeover', store: new IndexedDbStore({ dbName: 'e2e-outbox-takeover' }), baseUrl: location.origin });
      outbox.start();
      (globalThis as any).outbox = outbox;
    };
    // a opens first and takes the delivery lock; b queues for it.
    await a.evaluate(open);
    await b.evaluate(open);
    const id = await b.evaluate(() => (globalThis as any).outbox.enqueue({ url: '/api/hang', body: { n: 1 } }));
    // The server holds a's request unanswered: it is in flight when a goes.
    for (let i = 0; i < 200 && !hanging.has('/api/hang'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(received.filter((r) => r.key === id)).toHaveLength(1);
    await a.close();
    const left = await b.evaluate(async () => {
      const outbox = (globalThis as any).outbox;
      for (let i = 0; i < 400 && (await outbox.size()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      const size = await outbox.size();
      await outbox.close();
      return size;
    });
    expect(left).toBe(0);
    expect(received.filter((r) => r.key === id).map((r) => [r.path, Buffer.from(r.body, 'hex').toString()])).toEqual([
      ['/api/hang', '{"n":1}'],
      ['/api/hang', '{"n":1}'],
    ]);
    await b.close();
  }, 60_000);

  // b reads the task leased to a (until timeoutMs + 60 s, here 90 s). When a closes, the delivery lock passes to b,
  // which looks again at once at what another tab held (and at most 5 s later anyway); the store sees by a's owner
  // lock that a is gone (its watchers ask for that lock shared and do not count), so b takes the task and sends it
  // again with its key, long before the lease would end. test/outbox/closed-tab.test.ts is the same case in Node.
  it('a tab that opens while another has a task in flight sends it soon after that tab closes', async () => {
    const a = await browser.open();
    const open = async () => {
      const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
      const outbox = await Outbox.open({ name: 'late', store: new IndexedDbStore({ dbName: 'e2e-outbox-late' }), baseUrl: location.origin });
      outbox.start();
      (globalThis as any).outbox = outbox;
    };
    await a.evaluate(open);
    const id = await a.evaluate(() => (globalThis as any).outbox.enqueue({ url: '/api/hang-late', body: { n: 2 } }));
    for (let i = 0; i < 200 && !hanging.has('/api/hang-late'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(received.filter((r) => r.key === id)).toHaveLength(1);
    // b opens while a's request is in flight, then a goes.
    const b = await browser.open();
    try {
      await b.evaluate(open);
      await a.close();
      const left = await b.evaluate(async () => {
        const outbox = (globalThis as any).outbox;
        for (let i = 0; i < 200 && (await outbox.size()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
        const size = await outbox.size();
        await outbox.close();
        return size;
      });
      expect(left).toBe(0);
      // Sent again by b (a's request was never answered), with the same key.
      expect(received.filter((r) => r.key === id).map((r) => r.path)).toEqual(['/api/hang-late', '/api/hang-late']);
    } finally {
      await b.close();
    }
  }, 60_000);

  // b never delivers: it hears a's acks only as the store's change notices from another tab (BroadcastChannel).
  it('whenDrained() in a tab that only stores resolves once another tab has delivered its tasks', async () => {
    const [a, b] = await Promise.all([browser.open(), browser.open()]);
    const open = async () => {
      const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
      (globalThis as any).outbox = await Outbox.open({ name: 'drain', store: new IndexedDbStore({ dbName: 'e2e-outbox-drain' }), baseUrl: location.origin });
    };
    await a.evaluate(open);
    await b.evaluate(open);
    const ids: string[] = await b.evaluate(async () => {
      const outbox = (globalThis as any).outbox;
      const ids = await outbox.enqueueMany([{ url: '/api/drain', body: { n: 1 } }, { url: '/api/drain', body: { n: 2 } }]);
      (globalThis as any).drained = outbox.whenDrained().then(() => 'drained', (error: Error) => `rejected: ${error.message}`);
      return ids;
    });
    const early = await b.evaluate(() => Promise.race([(globalThis as any).drained, new Promise((resolve) => setTimeout(() => resolve('waiting'), 300))]));
    expect(early).toBe('waiting');
    expect(await a.evaluate(() => (globalThis as any).outbox.flush())).toMatchObject({ sent: 2, remaining: 0 });
    const late = await b.evaluate(() => Promise.race([(globalThis as any).drained, new Promise((resolve) => setTimeout(() => resolve('no drain within 20 s'), 20_000))]));
    expect(late).toBe('drained');
    expect(received.filter((r) => ids.includes(r.key!)).map((r) => Buffer.from(r.body, 'hex').toString())).toEqual(['{"n":1}', '{"n":2}']);
    await Promise.all([a, b].map((page) => page.evaluate(() => (globalThis as any).outbox.close())));
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it('.fetch() goes to the network first: a reachable server answers, nothing is stored', async () => {
    const page = await browser.open();
    const result = await page.evaluate(async () => {
      const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
      const outbox = await Outbox.open({ name: 'live', store: new IndexedDbStore({ dbName: 'e2e-outbox-fetch' }), baseUrl: location.origin });
      const response = await outbox.fetch(`${location.origin}/api/live`, { method: 'POST', body: 'x' });
      const stored = await outbox.size();
      await outbox.close();
      return { status: response.status, queued: response.headers.get('Sluice-Queued'), body: await response.text(), stored };
    });
    expect(result).toEqual({ status: 201, queued: null, body: '{"id":42}', stored: 0 });
    expect(received.filter((r) => r.path === '/api/live').map((r) => Buffer.from(r.body, 'hex').toString())).toEqual(['x']);
    await page.close();
  }, 60_000);
});
