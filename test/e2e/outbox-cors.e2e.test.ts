import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBrowser, type ServedBrowser } from './browser-page.mjs';
import { eachEngine } from './each-engine.js';

/** What the page saw of its outbox: 'error' events' errors, 'retry' events' error text, 'offline' and 'sent' counts. */
interface Seen {
  errors: { code: string | undefined; message: string; cause: string | undefined }[];
  retries: string[];
  offline: number;
  sent: number;
}

// An API on another origin whose CORS answer does not allow the Idempotency-Key header every task carries: fetch
// fails as it does with no network. The outbox names it ERR_CORS, goes on retrying on the host's backoff without
// marking itself offline, and delivers the task once the API allows the header. With `idempotencyHeader: false`
// no key goes, and an API that allows no header (or only Content-Type) gets its tasks.
eachEngine('Outbox delivery to an API on another origin: a CORS refusal is named', (engine) => {
  let browser: ServedBrowser;
  let api: Server;
  let apiOrigin = '';
  let allowKey = false;
  const posts: (string | undefined)[] = [];
  const barePosts: (string | undefined)[] = [];
  let closedOrigin = '';
  // '/plain/…' answers a preflight allowing no header at all, '/typed/…' one allowing Content-Type only.
  const limited: { path: string; key: string | undefined }[] = [];
  let limitedPreflights = 0;

  beforeAll(async () => {
    api = createServer((req: IncomingMessage, res: ServerResponse) => {
      const cors = { 'access-control-allow-origin': '*', 'access-control-max-age': '0' };
      // '/bare' allows what the preflight asks, but its responses carry no Access-Control-Allow-Origin.
      const bare = req.url === '/bare';
      if (/^\/(plain|typed)\//.test(req.url ?? '')) {
        if (req.method === 'OPTIONS') {
          limitedPreflights++;
          const allowed = req.url!.startsWith('/typed/') ? { 'access-control-allow-headers': 'Content-Type' } : {};
          return void res.writeHead(204, { ...cors, 'access-control-allow-methods': 'POST', ...allowed }).end();
        }
        if (req.method !== 'POST') return void res.writeHead(200).end();
        req.resume();
        req.on('end', () => {
          limited.push({ path: req.url!, key: req.headers['idempotency-key'] as string | undefined });
          res.writeHead(201, cors).end();
        });
        return;
      }
      if (req.method === 'OPTIONS') {
        const headers = allowKey || bare ? 'Idempotency-Key, Content-Type' : 'Content-Type';
        return void res.writeHead(204, { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': headers }).end();
      }
      if (req.method === 'POST') {
        req.resume();
        req.on('end', () => {
          (bare ? barePosts : posts).push(req.headers['idempotency-key'] as string | undefined);
          res.writeHead(201, bare ? {} : cors).end();
        });
        return;
      }
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiOrigin = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    // A port nobody listens on: connections to it are refused, as a host that is down refuses them.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    closedOrigin = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await new Promise((resolve) => gone.close(resolve));
    browser = await startBrowser(engine);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => api?.close(resolve));
  });

  /** In a fresh page, opens an outbox `name` that records its events, enqueues a task to `url`, and flushes once. */
  const start = async (name: string, url: string) => {
    const page = await browser.open();
    const first = await page.evaluate(
      async ({ name, url }) => {
        const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
        const outbox = await Outbox.open({ name, store: new IndexedDbStore({ dbName: `e2e-cors-${name}` }), retry: { initialDelayMs: 200, maxDelayMs: 500 } });
        const seen = { errors: [] as unknown[], retries: [] as string[], offline: 0, sent: 0 };
        outbox.addEventListener('error', (e: CustomEvent) => seen.errors.push({ code: e.detail.error?.code, message: String(e.detail.error?.message), cause: e.detail.error?.cause?.name }));
        outbox.addEventListener('retry', (e: CustomEvent) => seen.retries.push(e.detail.error));
        outbox.addEventListener('offline', () => seen.offline++);
        outbox.addEventListener('sent', () => seen.sent++);
        Object.assign(globalThis, { outbox, seen });
        const id = await outbox.enqueue({ url, body: { note: 'hello' } });
        await outbox.flush();
        return { id, seen, online: outbox.online };
      },
      { name, url },
    );
    return { page, ...(first as { id: string; seen: Seen; online: boolean }) };
  };

  it("names the refusal ERR_CORS ('error', 'retry'), stays online, sends nothing, and delivers once the API allows the header", async () => {
    const { page, id, seen, online } = await start('refused', `${apiOrigin}/notes`);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toMatchObject({ code: 'ERR_CORS', cause: 'TypeError' });
    expect(seen.errors[0]!.message).toContain(apiOrigin);
    expect(seen.errors[0]!.message).toContain('Access-Control-Allow-Headers: Idempotency-Key, Content-Type');
    expect(seen.retries).toHaveLength(1);
    expect(seen.retries[0]).toContain(`CORS refused the request to \`${apiOrigin}\``);
    expect(seen.offline).toBe(0);
    expect(online).toBe(true);
    expect(posts).toEqual([]);

    allowKey = true;
    const after = (await page.evaluate(async () => {
      const { outbox, seen } = globalThis as any;
      for (let end = Date.now() + 20_000; seen.sent === 0 && Date.now() < end; ) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await outbox.flush();
      }
      await outbox.close();
      return seen;
    })) as Seen;
    await page.close();
    expect(after).toMatchObject({ sent: 1, offline: 0 });
    expect(after.errors).toHaveLength(1);
    expect(posts).toEqual([id]);
  }, 60_000);

  it('with idempotencyHeader false, an API whose CORS answer allows no header (a text/plain task: no preflight) or only Content-Type (a JSON one) gets its tasks; with the default, it refuses them as ERR_CORS', async () => {
    const page = await browser.open();
    const run = (name: string, idempotencyHeader: false | undefined) =>
      page.evaluate(
        async ({ name, idempotencyHeader, origin }) => {
          const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
          const outbox = await Outbox.open({ name, store: new IndexedDbStore({ dbName: `e2e-cors-${name}` }), idempotencyHeader, ordering: 'none' });
          const errors: { code: string | undefined; message: string }[] = [];
          outbox.addEventListener('error', (e: CustomEvent) => errors.push({ code: e.detail.error?.code, message: String(e.detail.error?.message) }));
          await outbox.enqueue({ url: `${origin}/plain/${name}`, body: 'hello', headers: { 'Content-Type': 'text/plain' } });
          await outbox.enqueue({ url: `${origin}/typed/${name}`, body: { note: 'hello' } });
          const { sent, retried } = await outbox.flush();
          await outbox.close();
          return { sent, retried, errors };
        },
        { name, idempotencyHeader, origin: apiOrigin },
      ) as Promise<{ sent: number; retried: number; errors: { code: string | undefined; message: string }[] }>;
    const without = await run('no-key', false);
    expect(without).toEqual({ sent: 2, retried: 0, errors: [] });
    expect(limited.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: '/plain/no-key', key: undefined },
      { path: '/typed/no-key', key: undefined },
    ]);
    // Only the JSON task asked first: the text/plain one went as a simple request.
    expect(limitedPreflights).toBe(1);
    const keyed = await run('default-key', undefined);
    await page.close();
    expect(keyed).toMatchObject({ sent: 0, retried: 2 });
    expect(keyed.errors).toHaveLength(1);
    expect(keyed.errors[0]!.code).toBe('ERR_CORS');
    expect(keyed.errors[0]!.message).toContain('Access-Control-Allow-Headers: Idempotency-Key');
    expect(limited).toHaveLength(2);
  }, 60_000);

  it('a response without Access-Control-Allow-Origin is named ERR_CORS too (its request reached the server)', async () => {
    const { page, id, seen, online } = await start('bare', `${apiOrigin}/bare`);
    await page.evaluate(() => (globalThis as any).outbox.close());
    await page.close();
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toMatchObject({ code: 'ERR_CORS', cause: 'TypeError' });
    expect(seen.errors[0]!.message).toContain(apiOrigin);
    expect(seen.offline).toBe(0);
    expect(online).toBe(true);
    expect(barePosts).toEqual([id]);
  }, 60_000);

  it('a host that is down (its port closed) is a network error, never ERR_CORS: the outbox goes offline', async () => {
    const { page, seen, online } = await start('down', `${closedOrigin}/notes`);
    await page.evaluate(() => (globalThis as any).outbox.close());
    await page.close();
    expect(seen.errors).toEqual([]);
    expect(seen.retries).toHaveLength(1);
    expect(seen.retries[0]).not.toContain('CORS');
    expect(seen.offline).toBe(1);
    expect(online).toBe(false);
  }, 60_000);
});
