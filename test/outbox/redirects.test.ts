import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultServer } from './fault-server.js';
import { rig, type Rig } from './helpers.js';

// A second origin (another port of 127.0.0.1) that records whatever reaches it: nothing should.
let r: Rig;
let other: FaultServer;
beforeEach(async () => {
  r = await rig({ headers: () => ({ 'x-api-key': 'k3y-from-headers' }) });
  other = await FaultServer.start();
});
afterEach(async () => {
  await other.close();
  await r.teardown();
});

const stolen = () => other.received.map((x) => ({ path: x.path, apiKey: x.headers['x-api-key'], token: x.headers['x-task-token'], body: x.body.toString() }));

describe("redirect: 'error' (the default)", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`a POST answered ${status} is dead as 'redirect' with the status and Location, not sent`, async () => {
      r.server.next({ status, headers: { location: `${other.url}/elsewhere` } });
      const id = await r.outbox.enqueue({ url: '/notes', body: { text: 'secret note' }, headers: { 'x-task-token': 't0k3n' } });
      expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1, remaining: 0 });
      expect(r.events('sent')).toEqual([]);
      expect(r.events('dead')).toMatchObject([{ task: { id }, reason: 'redirect', status, location: `${other.url}/elsewhere` }]);
      expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'redirect', status, location: `${other.url}/elsewhere`, attempts: 1 }]);
      expect(stolen()).toEqual([]);
    });
  }

  it('a same-origin redirect is not followed either', async () => {
    r.server.next({ status: 307, headers: { location: '/v2/notes' } });
    await r.outbox.enqueue({ url: '/notes', body: 'x' });
    await r.outbox.flush();
    expect(r.server.received.map((x) => x.path)).toEqual(['/notes']);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'redirect', status: 307, location: '/v2/notes' }]);
  });

  it('a redirect does not block its group: the next task goes', async () => {
    r.server.plan('a', [{ status: 302, headers: { location: '/login' } }]);
    await r.outbox.enqueueMany([{ url: '/a', id: 'a', group: 'g' }, { url: '/b', id: 'b', group: 'g' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 1, remaining: 0 });
    expect(r.server.delivered.map((x) => x.key)).toEqual(['b']);
  });

  it('a batch answered with a redirect: every task of it is dead as redirect', async () => {
    await r.reopen({ batch: { url: '/batch' } });
    r.server.next({ status: 308, headers: { location: `${other.url}/batch` } });
    await r.outbox.enqueueMany([{ url: '/a', body: { n: 1 } }, { url: '/b', body: { n: 2 } }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 2 });
    expect(stolen()).toEqual([]);
  });

  it('a 300, 304 or 305 is a final response even with a Location (fetch follows only 301, 302, 303, 307 and 308)', async () => {
    for (const status of [300, 304, 305]) {
      r.server.next({ status, headers: { location: '/v2/notes' } });
      await r.outbox.enqueue({ url: '/notes', method: 'POST', body: 'x' });
      await r.outbox.flush();
    }
    for (const policy of ['follow-same-origin'] as const) {
      await r.reopen({ redirect: policy, headers: () => ({ 'x-api-key': 'k3y-from-headers' }) });
      r.server.next({ status: 300, headers: { location: '/v2/notes' } });
      await r.outbox.enqueue({ url: '/notes', method: 'POST', body: 'x' });
      expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1 });
    }
    expect(r.server.received.map((x) => x.path)).toEqual(['/notes', '/notes', '/notes', '/notes']);
    expect((await r.outbox.dead.list()).map((d) => [d.reason, d.status])).toEqual([
      ['status', 300],
      ['status', 304],
      ['status', 305],
      ['status', 300],
    ]);
  });

  it("a Location that echoes a headers() value keeps it out of the dead letter and the 'dead' event", async () => {
    r.server.next({ status: 302, headers: { location: `${other.url}/callback?key=k3y-from-headers` } });
    await r.outbox.enqueue({ url: '/notes', body: 'x' });
    await r.outbox.flush();
    const [letter] = await r.outbox.dead.list();
    expect(letter).toMatchObject({ reason: 'redirect', status: 302, location: `${other.url}/callback?key=[redacted]` });
    expect(JSON.stringify(r.events('dead'))).not.toContain('k3y');
  });

  it('a Location that echoes a headers() value encoded (a Basic credential has + and /) keeps it out too, however escaped', async () => {
    const basic = 'Basic YWxpY2U6cGE+c3M/d29yZA==';
    await r.reopen({ headers: () => ({ authorization: basic }) });
    const echoes = [`auth=${encodeURIComponent(basic)}`, `auth=${new URLSearchParams({ a: basic }).toString().slice(2)}`, `auth=${encodeURIComponent(basic).replace(/%[\dA-F]{2}/g, (x) => x.toLowerCase())}`];
    for (const echo of echoes) r.server.next({ status: 302, headers: { location: `${other.url}/callback?${echo}` } });
    for (let i = 0; i < echoes.length; i++) await r.outbox.enqueue({ url: `/notes${i}`, body: 'x' });
    await r.outbox.flush();
    const letters = await r.outbox.dead.list();
    expect(letters.map((l) => l.location)).toEqual(echoes.map(() => `${other.url}/callback?auth=[redacted]`));
    expect(JSON.stringify(r.events('dead'))).not.toContain('YWxpY2U6cGE');
  });

  it('a 304 or a 3xx without Location is a final response, judged by classify (dead as status)', async () => {
    r.server.next({ status: 300 });
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'status', status: 300 }]);
  });
});

describe("redirect: 'follow-same-origin' and a browser's opaque redirect", () => {
  // As a browser's fetch answers: the manual request gets an opaque redirect, and the one that follows it in mode
  // 'same-origin' fails, whether fetch refused the redirect or the network went in between.
  const opaque = async (input: RequestInfo | URL, init?: RequestInit) => {
    if (init?.redirect === 'manual') return Object.defineProperties(new Response(null), { type: { value: 'opaqueredirect' }, status: { value: 0 } });
    throw new TypeError('Failed to fetch');
  };

  it("a refused follow is dead as 'redirect'; one that failed while the platform says offline is retried", async () => {
    // The outbox's own hint, as a page's navigator.onLine would give it.
    const hint = { online: true as boolean, subscribe: () => () => undefined };
    await r.reopen({ redirect: 'follow-same-origin', fetch: opaque, connectivity: hint });
    await r.outbox.enqueue({ url: '/a', body: 'x' });
    hint.online = false;
    expect(await r.outbox.flush()).toMatchObject({ retried: 1, dead: 0 });
    hint.online = true;
    r.clock.advance(300_000);
    expect(await r.outbox.flush()).toMatchObject({ dead: 1 });
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'redirect', status: 0 }]);
  });
});

describe("redirect: 'follow-same-origin'", () => {
  beforeEach(() => r.reopen({ redirect: 'follow-same-origin' }));

  for (const status of [307, 308]) {
    it(`follows a same-origin ${status} with method, body, the task's headers and headers(), once`, async () => {
      r.server.next({ status, headers: { location: '/v2/notes' } });
      const id = await r.outbox.enqueue({ url: '/notes', method: 'PUT', body: { text: 'hi' }, headers: { 'x-task-token': 't0k3n' } });
      expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
      const [first, second] = r.server.received;
      expect(first).toMatchObject({ method: 'PUT', path: '/notes', key: id });
      expect(second).toMatchObject({ method: 'PUT', path: '/v2/notes', key: id });
      expect(second!.headers['x-api-key']).toBe('k3y-from-headers');
      expect(second!.headers['x-task-token']).toBe('t0k3n');
      expect(JSON.parse(second!.body.toString())).toEqual({ text: 'hi' });
      expect(r.events('sent')).toMatchObject([{ task: { id }, status: 200 }]);
    });
  }

  for (const [status, method] of [
    [301, 'POST'],
    [302, 'POST'],
    [303, 'PUT'],
  ] as const) {
    it(`turns a ${method} answered ${status} into a GET without body or content headers, as fetch does`, async () => {
      r.server.next({ status, headers: { location: '/result' } });
      await r.outbox.enqueue({ url: '/notes', method, body: { text: 'hi' } });
      expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
      const second = r.server.received[1]!;
      expect(second).toMatchObject({ method: 'GET', path: '/result' });
      expect(second.body.length).toBe(0);
      expect(second.headers['content-type']).toBeUndefined();
    });
  }

  for (const status of [301, 302, 303, 307, 308]) {
    it(`never follows a ${status} to another origin: no header, body or request reaches it; dead as 'redirect'`, async () => {
      r.server.next({ status, headers: { location: `${other.url}/steal` } });
      await r.outbox.enqueue({ url: '/notes', body: { text: 'secret note' }, headers: { 'x-task-token': 't0k3n' } });
      expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1 });
      expect(stolen()).toEqual([]);
      expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'redirect', status, location: `${other.url}/steal` }]);
    });
  }

  it('a POST turned into a GET (302) stays without its body through a 307 after it: sent once, never retried', async () => {
    r.server.next({ status: 302, headers: { location: '/hop' } }, { status: 307, headers: { location: '/result' } });
    await r.outbox.enqueue({ url: '/notes', body: { text: 'hi' } });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, retried: 0 });
    expect(r.server.received.map((x) => [x.method, x.path, x.body.length])).toEqual([
      ['POST', '/notes', 13],
      ['GET', '/hop', 0],
      ['GET', '/result', 0],
    ]);
    expect(r.outbox.online).toBe(true);
  });

  it('a same-origin Location with credentials in it is not followed (fetch refuses it): dead as redirect, not retried', async () => {
    const location = r.server.url.replace('http://', 'http://user:pw@') + '/hop';
    r.server.next({ status: 307, headers: { location } });
    await r.outbox.enqueue({ url: '/notes', body: 'x' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, retried: 0, dead: 1 });
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'redirect', status: 307 }]);
    expect(r.outbox.online).toBe(true);
  });

  it('a same-origin hop that then points to another origin stops there', async () => {
    r.server.next({ status: 307, headers: { location: '/hop' } }, { status: 307, headers: { location: `${other.url}/steal` } });
    await r.outbox.enqueue({ url: '/notes', body: 'payload' });
    await r.outbox.flush();
    expect(r.server.received.map((x) => x.path)).toEqual(['/notes', '/hop']);
    expect(stolen()).toEqual([]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'redirect', status: 307 }]);
  });

  it('follows at most 5 hops: a redirect loop is dead as redirect', async () => {
    r.server.script(() => ({ status: 307, headers: { location: '/loop' } }));
    await r.outbox.enqueue({ url: '/loop', body: 'x' });
    expect(await r.outbox.flush()).toMatchObject({ dead: 1 });
    expect(r.server.received).toHaveLength(6);
  });
});
