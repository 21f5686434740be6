import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBrowser, type ServedBrowser } from './browser-page.mjs';
import { eachEngine } from './each-engine.js';

interface Received {
  path: string | undefined;
  method: string | undefined;
  key: string | undefined;
  type: string | undefined;
  apiKey: string | undefined;
  length: number;
  sha: string;
  raw: Buffer;
}

const sha = (bytes: Uint8Array | Buffer) => createHash('sha256').update(bytes).digest('hex');
/** The bytes pages make for a body: the same formula in the page and here. */
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 255);

function record(into: Received[], req: IncomingMessage, done: (r: Received) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const h = req.headers;
    const r: Received = {
      path: req.url,
      method: req.method,
      key: h['idempotency-key'] as string | undefined,
      type: h['content-type'],
      apiKey: h['x-api-key'] as string | undefined,
      length: body.length,
      sha: sha(body),
      raw: body,
    };
    into.push(r);
    done(r);
  });
}

// Redirects and large bodies as a browser's fetch meets them: an opaque redirect (status 0, Location hidden) is never
// success, and a body stored in IndexedDB goes out byte for byte.
eachEngine('Outbox delivery in a browser: redirects and large bodies', (engine) => {
  let browser: ServedBrowser;
  let other: Server;
  let otherOrigin = '';
  const received: Received[] = [];
  const stolen: Received[] = [];

  beforeAll(async () => {
    other = createServer((req, res) => record(stolen, req, () => res.writeHead(200, { 'access-control-allow-origin': '*' }).end()));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.startsWith('/api/')) return false;
      record(received, req, () => {
        if (req.url === '/api/moved-307') res.writeHead(307, { location: '/api/target' }).end();
        else if (req.url === '/api/moved-302') res.writeHead(302, { location: '/api/target' }).end();
        else if (req.url === '/api/moved-away') res.writeHead(307, { location: `${otherOrigin}/steal` }).end();
        else res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      return true;
    };
    browser = await startBrowser(engine, { handle });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => other?.close(resolve));
  });

  /** Opens an outbox `name` in a fresh page, enqueues `paths` (POSTs with a small body), flushes; says what happened. */
  const deliver = async (name: string, redirect: string | undefined, paths: string[]) => {
    const page = await browser.open();
    const result = await page.evaluate(
      async ({ name, redirect, paths }) => {
        const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
        const outbox = await Outbox.open({
          name,
          store: new IndexedDbStore({ dbName: `e2e-delivery-${name}` }),
          baseUrl: location.origin,
          headers: () => ({ 'x-api-key': 'k3y' }),
          ...(redirect && { redirect }),
        });
        for (const path of paths) await outbox.enqueue({ url: path, body: { n: 1 }, group: path });
        const flushed = await outbox.flush();
        const dead = (await outbox.dead.list()).map((d: any) => ({ reason: d.reason, status: d.status }));
        await outbox.close();
        return { flushed, dead };
      },
      { name, redirect, paths },
    );
    await page.close();
    return result;
  };

  it("a POST answered with a redirect is not sent: dead as 'redirect' (status 0, an opaque redirect)", async () => {
    const { flushed, dead } = await deliver('redirect-error', undefined, ['/api/moved-302', '/api/moved-away']);
    expect(flushed).toMatchObject({ sent: 0, dead: 2 });
    expect(dead).toEqual([
      { reason: 'redirect', status: 0 },
      { reason: 'redirect', status: 0 },
    ]);
    expect(received.filter((r) => r.path === '/api/target')).toEqual([]);
    expect(stolen).toEqual([]);
  }, 60_000);

  it("'follow-same-origin' follows a same-origin 307 with body and headers, and never one to another origin", async () => {
    const { flushed, dead } = await deliver('redirect-follow', 'follow-same-origin', ['/api/moved-307', '/api/moved-away']);
    expect(flushed).toMatchObject({ sent: 1, dead: 1 });
    expect(dead).toEqual([{ reason: 'redirect', status: 0 }]);
    const [target] = received.filter((r) => r.path === '/api/target');
    expect(target).toMatchObject({ method: 'POST', apiKey: 'k3y', sha: sha(Buffer.from('{"n":1}')) });
    expect(stolen).toEqual([]);
  }, 60_000);

  it('a 3 MiB File is stored in IndexedDB beside its task, sent byte for byte with its type, and deleted once sent', async () => {
    const size = 3 * 1024 * 1024;
    const page = await browser.open();
    const result = await page.evaluate(async (size) => {
      const { Outbox, IndexedDbStore } = (globalThis as any).sluice;
      const store = new IndexedDbStore({ dbName: 'e2e-delivery-bodies' });
      const outbox = await Outbox.open({ name: 'bodies', store, baseUrl: location.origin });
      const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 8)) & 255);
      const form = new FormData();
      form.append('caption', 'field notes');
      form.append('photo', new File([data.subarray(0, 100_000)], 'p.jpg', { type: 'image/jpeg' }));
      const [id] = await outbox.enqueueMany([
        { url: '/api/photo', body: new File([data], 'photo.jpg', { type: 'image/jpeg' }) },
        { url: '/api/form', body: form },
      ]);
      // The outbox's queue's storage, looked into (a Queue opened on an outbox's queue is refused).
      const peek = await store.open('bodies');
      const storedBefore = (await peek.blobs.keys()).length;
      const flushed = await outbox.flush();
      const storedAfter = (await peek.blobs.keys()).length;
      await peek.close();
      await outbox.close();
      return { id, flushed, storedBefore, storedAfter };
    }, size);
    await page.close();
    expect(result).toMatchObject({ flushed: { sent: 2 }, storedBefore: 2, storedAfter: 0 });
    const [photo] = received.filter((r) => r.path === '/api/photo');
    expect(photo).toMatchObject({ key: result.id, type: 'image/jpeg', length: size, sha: sha(pattern(size)) });
    const [form] = received.filter((r) => r.path === '/api/form');
    expect(form!.type).toMatch(/^multipart\/form-data; boundary=/);
    const parsed = await new Response(new Uint8Array(form!.raw), { headers: { 'content-type': form!.type! } }).formData();
    expect(parsed.get('caption')).toBe('field notes');
    const file = parsed.get('photo') as File;
    expect([file.name, file.type, sha(new Uint8Array(await file.arrayBuffer()))]).toEqual(['p.jpg', 'image/jpeg', sha(pattern(size).subarray(0, 100_000))]);
  }, 60_000);
});
