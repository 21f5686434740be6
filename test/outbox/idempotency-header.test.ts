// `OutboxOptions.idempotencyHeader`: the header a task's id travels in ('Idempotency-Key' by default), another name,
// or none (`false`: a request to another origin with only CORS-safelisted headers needs no preflight).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { taskFromRequest } from '../../src/outbox/request-task.js';
import { batchKey } from '../../src/outbox/request.js';
import { next, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

const keys = (names: readonly string[]) => r.server.received.map((x) => Object.fromEntries(names.map((n) => [n, x.headers[n]])));

describe('idempotencyHeader: the header each request carries the task id in', () => {
  it.each([
    [undefined, 'idempotency-key'],
    ['Idempotency-Key', 'idempotency-key'],
    ['X-Request-Id', 'x-request-id'],
    ['idempotency-token', 'idempotency-token'],
  ] as const)('%s: one task goes with its id in %s, and no other key header', async (option, sent) => {
    await r.reopen({ idempotencyHeader: option });
    const id = await r.outbox.enqueue({ url: '/one', body: { a: 1 } });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.server.received[0]!.headers[sent]).toBe(id);
    for (const other of ['idempotency-key', 'x-request-id', 'idempotency-token']) if (other !== sent) expect(r.server.received[0]!.headers[other]).toBeUndefined();
  });

  it('false: no key header at all, single or batched', async () => {
    await r.reopen({ idempotencyHeader: false });
    await r.outbox.enqueue({ url: '/one', body: 'text', headers: { 'content-type': 'text/plain' } });
    await r.outbox.flush();
    await r.reopen({ idempotencyHeader: false, batch: { url: '/batch' } });
    await r.outbox.enqueueMany([{ url: '/a', body: { n: 1 } }, { url: '/b', body: { n: 2 } }]);
    await r.outbox.flush();
    expect(r.server.received.map((x) => x.path)).toEqual(['/one', '/batch']);
    for (const x of r.server.received) expect(Object.keys(x.headers).filter((n) => /idempotency|request-id/.test(n))).toEqual([]);
    expect(r.server.received[0]!.headers['content-type']).toBe('text/plain');
  });

  it("a batch's key goes in the configured header", async () => {
    await r.reopen({ idempotencyHeader: 'X-Request-Id', batch: { url: '/batch' } });
    const ids = await r.outbox.enqueueMany([{ url: '/a', body: { n: 1 } }, { url: '/b', body: { n: 2 } }]);
    await r.outbox.flush();
    expect(keys(['x-request-id', 'idempotency-key'])).toEqual([{ 'x-request-id': batchKey(ids), 'idempotency-key': undefined }]);
  });

  it("the configured header wins over headers()' header of that name, as the default's always did", async () => {
    await r.reopen({ idempotencyHeader: 'X-Request-Id', headers: () => ({ 'x-request-id': 'from-provider', 'Idempotency-Key': 'plain' }) });
    const id = await r.outbox.enqueue({ url: '/one', body: 'x' });
    await r.outbox.flush();
    expect(keys(['x-request-id', 'idempotency-key'])).toEqual([{ 'x-request-id': id, 'idempotency-key': 'plain' }]);
  });

  it('keepalive requests as the page hides carry it (unloadFlush), or none with false', async () => {
    const page = Object.assign(new EventTarget(), { onpagehide: null });
    await r.reopen({ ordering: 'none', page, idempotencyHeader: 'X-Request-Id' });
    const id = await r.outbox.enqueue({ url: '/a' });
    page.dispatchEvent(new Event('pagehide'));
    await r.server.waitFor(1);
    await r.outbox.close();
    await r.open({ name: 'other', ordering: 'none', page, idempotencyHeader: false });
    await r.outbox.enqueue({ url: '/b' });
    page.dispatchEvent(new Event('pagehide'));
    await r.server.waitFor(2);
    expect(r.server.received.map((x) => [x.path, x.headers['x-request-id'], x.headers['idempotency-key']])).toEqual([
      ['/a', id, undefined],
      ['/b', undefined, undefined],
    ]);
  });

  it('live sends (Outbox.fetch) carry it, and a stored live request goes with its id there', async () => {
    await r.reopen({ idempotencyHeader: 'X-Request-Id' });
    expect((await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x' })).status).toBe(200);
    const live = r.server.received[0]!;
    expect(live.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(live.headers['idempotency-key']).toBeUndefined();
    await r.server.down();
    const queued = await r.outbox.fetch(`${r.server.url}/later`, { method: 'POST', body: 'y', headers: { 'X-Request-Id': 'mine-1', 'Idempotency-Key': 'plain' } });
    expect(queued.status).toBe(202);
    expect(queued.headers.get('Sluice-Queued')).toBe('mine-1');
    await r.server.up();
    r.clock.advance(300_000);
    await r.outbox.flush({ reachable: true });
    expect(keys(['x-request-id', 'idempotency-key']).at(-1)).toEqual({ 'x-request-id': 'mine-1', 'idempotency-key': 'plain' });
  });

  it('outbox.fetch is refused with false (ERR_INVALID_OPTION), nothing sent or stored: its own tasks sent through it could not be told from new requests', async () => {
    await r.reopen({ idempotencyHeader: false });
    const error = await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' });
    expect((error as Error).message).toMatch(/^outbox\.fetch\(\) needs a key header: this outbox was opened with `idempotencyHeader: false`/);
    expect(r.server.delivered).toEqual([]);
    expect(await r.outbox.size()).toBe(0);
  });
});

describe('idempotencyHeader: its validation', () => {
  const refused = async (value: unknown) => {
    const error = await Outbox.open({ name: 'bad', store: new MemoryStore(), idempotencyHeader: value as string }).then(
      (o) => (void o.close(), undefined),
      (e: unknown) => e,
    );
    expect(error, String(value)).toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' });
    const { message } = error as Error;
    expect(message).toMatch(/^Expected `idempotencyHeader` to be false or a header name fetch lets a page set \(not Content-Type, Sluice-Group, Sluice-Queued, nor one fetch forbids: Content-Length, Host, Cookie, Origin, Proxy-\*, Sec-\*…\), got /);
    return message;
  };

  it('refuses an empty name, one that is no token, and what is neither a string nor false', async () => {
    expect(await refused('')).toMatch(/got ""\.$/);
    await refused('X Request Id');
    await refused('Idempotency-Key:');
    await refused('Kéy');
    await refused(true);
    await refused(null);
    await refused(42);
  });

  it("refuses, whatever their case, names fetch forbids, sluice's own, and Content-Type", async () => {
    for (const name of ['Content-Length', 'host', 'COOKIE', 'Origin', 'Referer', 'Connection', 'Keep-Alive', 'Transfer-Encoding', 'Via', 'DNT', 'X-HTTP-Method-Override', 'x-http-method', 'X-Method-Override', 'Accept-Charset', 'accept-encoding', 'Access-Control-Request-Headers', 'Cookie2', 'Set-Cookie', 'TE', 'Trailer', 'Upgrade', 'Date', 'Expect', 'Proxy-Authorization', 'proxy-key', 'Sec-Fetch-Mode', 'sec-key', 'Sluice-Group', 'sluice-queued', 'Content-Type']) {
      expect(await refused(name)).toContain(`got "${name}"`);
    }
  });

  it('takes a token fetch lets a page set, and false', async () => {
    for (const value of ['Idempotency-Key', 'X-Request-Id', 'idempotency-token', 'X-Secure-Key', 'Host-Key', 'Content-Typed', 'Tee', 'Sluice-Key', 'Accept', false, undefined] as const) {
      const outbox = await Outbox.open({ name: 'ok', store: new MemoryStore(), idempotencyHeader: value });
      await outbox.close();
    }
  });
});

describe('idempotencyHeader: a task header of that name', () => {
  it('is refused at enqueue, whatever its case, in the words of the option', async () => {
    await r.reopen({ idempotencyHeader: 'X-Request-Id' });
    for (const headers of [{ 'x-request-id': 'a' }, { 'X-REQUEST-ID': 'a' }] as Record<string, string>[]) {
      const task = { url: '/x', headers };
      await expect(r.outbox.enqueue(task)).rejects.toMatchObject({
        code: 'ERR_INVALID_TASK',
        message: expect.stringMatching(new RegExp(`^Expected task \`headers\\.${Object.keys(headers)[0]!}\``)),
      });
      await expect(r.outbox.enqueue(task)).rejects.toThrow(/to be absent: every request carries the task id as its X-Request-Id \(the `idempotencyHeader` option; set `id` to choose the key\)/);
    }
    await r.reopen();
    await expect(r.outbox.enqueue({ url: '/x', headers: { 'Idempotency-Key': 'a' } })).rejects.toThrow(/as its Idempotency-Key \(the `idempotencyHeader` option/);
    expect(await r.outbox.size()).toBe(0);
  });

  it('Idempotency-Key is a header like any other with another name or false: stored and sent as the app set it', async () => {
    await r.reopen({ idempotencyHeader: 'X-Request-Id' });
    const id = await r.outbox.enqueue({ url: '/named', body: 'x', headers: { 'Idempotency-Key': 'apps-1' } });
    await r.outbox.flush();
    await r.reopen({ idempotencyHeader: false });
    await r.outbox.enqueue({ url: '/none', body: 'x', headers: { 'Idempotency-Key': 'apps-2', 'X-Request-Id': 'r-2' } });
    await r.outbox.flush();
    expect(keys(['idempotency-key', 'x-request-id'])).toEqual([
      { 'idempotency-key': 'apps-1', 'x-request-id': id },
      { 'idempotency-key': 'apps-2', 'x-request-id': 'r-2' },
    ]);
  });

  it('a Request enqueued gives its id from the configured header; with false, its Idempotency-Key stays a header', async () => {
    await r.reopen({ idempotencyHeader: 'X-Request-Id' });
    const request = () => new Request(`${r.server.url}/req`, { method: 'POST', body: 'x', headers: { 'X-Request-Id': 'req-1', 'Idempotency-Key': 'plain' } });
    expect(await r.outbox.enqueue(request())).toBe('req-1');
    await r.outbox.flush();
    await r.reopen({ idempotencyHeader: false });
    const generated = await r.outbox.enqueue(request());
    expect(generated).not.toBe('req-1');
    expect(generated).not.toBe('plain');
    await r.outbox.flush();
    expect(keys(['idempotency-key', 'x-request-id'])).toEqual([
      { 'idempotency-key': 'plain', 'x-request-id': 'req-1' },
      { 'idempotency-key': 'plain', 'x-request-id': 'req-1' },
    ]);
  });

  it('taskFromRequest reads the id from the header it is given, or from none', async () => {
    const request = () => new Request('https://api.test/', { method: 'POST', body: 'x', headers: { 'Idempotency-Key': 'k1', 'X-Request-Id': 'r1' } });
    expect(await taskFromRequest(request(), 'x-request-id')).toMatchObject({ id: 'r1', headers: { 'idempotency-key': 'k1' } });
    const none = await taskFromRequest(request(), undefined);
    expect(none.id).toBeUndefined();
    expect(none.headers).toMatchObject({ 'idempotency-key': 'k1', 'x-request-id': 'r1' });
  });
});

describe('idempotencyHeader: a stored task delivered by an outbox opened with another setting', () => {
  it('goes with its id in the header configured now, over a stored header of that name', async () => {
    await r.reopen({ idempotencyHeader: false });
    const a = await r.outbox.enqueue({ url: '/a', body: 'x', headers: { 'Idempotency-Key': 'stale', 'X-Request-Id': 'stale' } });
    await r.reopen({ idempotencyHeader: 'X-Request-Id' });
    const b = await r.outbox.enqueue({ url: '/b', body: 'x' });
    await r.reopen();
    await r.outbox.flush();
    expect(r.server.received.map((x) => [x.path, x.headers['idempotency-key'], x.headers['x-request-id']])).toEqual([
      ['/a', a, 'stale'],
      ['/b', b, undefined],
    ]);
  });

  it('goes without a key when opened with false, and with it under the new name when opened with another', async () => {
    const a = await r.outbox.enqueue({ url: '/a', body: 'x' });
    const b = await r.outbox.enqueue({ url: '/b', body: 'x' });
    await r.reopen({ idempotencyHeader: false });
    r.server.next({ status: 503 });
    await r.outbox.flush();
    await r.reopen({ idempotencyHeader: 'Idempotency-Token' });
    r.clock.advance(300_000);
    await r.outbox.flush();
    expect(r.server.received.map((x) => [x.path, x.headers['idempotency-key'], x.headers['idempotency-token']])).toEqual([
      ['/a', undefined, undefined],
      ['/a', undefined, a],
      ['/b', undefined, b],
    ]);
  });
});

describe("idempotencyHeader: a page's requests through its service worker's outbox.fetch", () => {
  it('a worker configured alike stores the request under the id the page sent in that header', async () => {
    const worker = await Outbox.open({ name: 'sw', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url, idempotencyHeader: 'X-Request-Id' });
    const page = await Outbox.open({ name: 'page', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url, idempotencyHeader: 'X-Request-Id', fetch: (input, init) => worker.fetch(new Request(input, init)) });
    try {
      await r.server.down();
      const id = await page.enqueue({ url: '/notes', body: { text: 'hi' } });
      const heard = next<{ queuedAs: string }>(page, 'handed-over');
      expect(await page.flush()).toMatchObject({ handedOver: 1, remaining: 0 });
      expect((await heard).queuedAs).toBe(id);
      await r.server.up();
      r.clock.advance(300_000);
      expect(await worker.flush({ reachable: true })).toMatchObject({ sent: 1 });
      expect(r.server.delivered.map((x) => [x.headers['x-request-id'], x.headers['idempotency-key']])).toEqual([[id, undefined]]);
    } finally {
      await page.close();
      await worker.close();
    }
  });

  it('a page and worker on one outbox, configured alike: the page sends its task to the network once, under its id', async () => {
    const store = new MemoryStore();
    const worker = await Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url, idempotencyHeader: 'X-Request-Id' });
    const page = await Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url, idempotencyHeader: 'X-Request-Id', fetch: (input, init) => worker.fetch(new Request(input, init)) });
    try {
      const id = await page.enqueue({ url: '/notes', body: { text: 'hi' } });
      expect(await page.flush()).toMatchObject({ sent: 1, handedOver: 0, remaining: 0 });
      expect(r.server.delivered.map((x) => [x.path, x.headers['x-request-id']])).toEqual([['/notes', id]]);
    } finally {
      await page.close();
      await worker.close();
    }
  });

  it("a page with false through a worker's outbox with a key: the worker stores the request under an id of its own, and sends its key", async () => {
    const worker = await Outbox.open({ name: 'sw', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url });
    const page = await Outbox.open({ name: 'page', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url, idempotencyHeader: false, fetch: (input, init) => worker.fetch(new Request(input, init)) });
    try {
      await r.server.down();
      const id = await page.enqueue({ url: '/notes', body: { text: 'hi' }, headers: { 'X-Trace': 'plain' } });
      const heard = next<{ queuedAs: string }>(page, 'handed-over');
      expect(await page.flush()).toMatchObject({ handedOver: 1, remaining: 0 });
      const { queuedAs } = await heard;
      expect(queuedAs).not.toBe(id);
      expect((await worker.list()).map((t) => t.id)).toEqual([queuedAs]);
      await r.server.up();
      r.clock.advance(300_000);
      expect(await worker.flush({ reachable: true })).toMatchObject({ sent: 1 });
      expect(r.server.delivered.map((x) => [x.headers['idempotency-key'], x.headers['x-trace']])).toEqual([[queuedAs, 'plain']]);
    } finally {
      await page.close();
      await worker.close();
    }
  });
});
