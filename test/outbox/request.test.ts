// A task's request carries its method, URL and headers as enqueued: per-send headers never change what the body says
// it is, and a batch carries only what a JSON array of bodies can.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

const at = (path: string) => r.server.received.find((x) => x.path === path)!;

describe('per-send headers', () => {
  it("a headers() provider's content type never replaces the body's: a form's boundary, a Blob's type, the task's own", async () => {
    await r.reopen({ headers: () => ({ 'Content-Type': 'application/json', Authorization: 'Bearer fresh' }) });
    const form = new FormData();
    form.append('a', 'b');
    await r.outbox.enqueueMany([
      { url: '/form', body: form },
      { url: '/blob', body: new Blob(['png'], { type: 'image/png' }) },
      { url: '/csv', body: 'a,b', headers: { 'content-type': 'text/csv', authorization: 'Bearer stored' } },
      { url: '/text', body: 'plain' },
      { url: '/json', body: { a: 1 } },
    ]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 5 });
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(at('/form').headers['content-type'] as string)?.[1];
    expect(at('/form').body.toString().startsWith(`--${boundary}\r\n`)).toBe(true);
    expect(at('/blob').headers['content-type']).toBe('image/png');
    expect(at('/csv').headers['content-type']).toBe('text/csv');
    // A body that says no type of its own takes the provider's, as does the application/json a JSON body implies
    // (a JSON:API app's provider gives application/vnd.api+json); the provider's fresh token wins over a stored one.
    expect(at('/text').headers['content-type']).toBe('application/json');
    expect(at('/json').headers['content-type']).toBe('application/json');
    for (const x of r.server.received) expect(x.headers.authorization).toBe('Bearer fresh');
  });

  it("a provider's type over the application/json a JSON body implies, in a task and in a batch: a JSON:API app's", async () => {
    await r.reopen({ headers: () => ({ 'content-type': 'application/vnd.api+json' }) });
    await r.outbox.enqueue({ url: '/one', body: { data: 1 } });
    await r.outbox.flush();
    await r.reopen({ headers: () => ({ 'content-type': 'application/vnd.api+json' }), batch: { url: '/batch' } });
    await r.outbox.enqueueMany([{ url: '/a', body: { data: 2 } }, { url: '/b', body: { data: 3 }, headers: { 'content-type': 'application/vnd.api+json' } }]);
    await r.outbox.flush();
    expect(r.server.received.map((x) => [x.path, x.headers['content-type']])).toEqual([
      ['/one', 'application/vnd.api+json'],
      ['/batch', 'application/vnd.api+json'],
    ]);
    expect(JSON.parse(at('/batch').body.toString())).toEqual([{ data: 2 }, { data: 3 }]);
  });

  it('two per-send headers of one name in two cases are both sent, joined as fetch joins them', async () => {
    await r.reopen({ headers: () => ({ 'X-Trace': 'a', 'x-trace': 'b' }) });
    await r.outbox.enqueue({ url: '/t', body: 'x' });
    await r.outbox.flush();
    expect(at('/t').headers['x-trace']).toBe('a, b');
  });

  it('a Request with a header given twice (set-cookie, which Headers gives apart) keeps both values', async () => {
    const headers = new Headers();
    headers.append('set-cookie', 'a=1');
    headers.append('set-cookie', 'b=2');
    await r.outbox.enqueue(new Request(`${r.server.url}/req`, { method: 'POST', body: 'x', headers }));
    await r.outbox.flush();
    expect(at('/req').headers['set-cookie']).toEqual(['a=1, b=2']);
  });
});

describe('with batch, only what a JSON array of bodies can carry travels in one', () => {
  it('a DELETE, a PUT with its If-Match and XML, a GET, a form body and a task with a header of its own go alone, as themselves', async () => {
    await r.reopen({ batch: { url: '/batch' } });
    await r.outbox.enqueueMany([
      { url: '/notes/1', method: 'DELETE' },
      { url: '/notes/2', method: 'PUT', body: '<note/>', headers: { 'content-type': 'application/xml', 'if-match': '"v7"' } },
      { url: '/ping', method: 'GET' },
      { url: '/form', body: new URLSearchParams({ a: 'b' }) },
      { url: '/traced', body: { n: 0 }, headers: { 'x-trace': 't1' } },
      { url: '/notes', body: { text: 'hi' } },
      { url: '/notes', body: 'plain' },
      { url: '/notes', body: { text: 'typed' }, headers: { 'content-type': 'application/json; charset=utf-8' } },
    ]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 8, dead: 0 });
    const seen = r.server.received.map((x) => `${x.method} ${x.path}`).sort();
    expect(seen).toEqual(['DELETE /notes/1', 'GET /ping', 'POST /batch', 'POST /form', 'POST /traced', 'PUT /notes/2'].sort());
    expect(at('/notes/2')).toMatchObject({ headers: expect.objectContaining({ 'content-type': 'application/xml', 'if-match': '"v7"' }) });
    expect(at('/notes/2').body.toString()).toBe('<note/>');
    expect(at('/form').headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(at('/traced').headers['x-trace']).toBe('t1');
    expect(JSON.parse(at('/batch').body.toString())).toEqual([{ text: 'hi' }, 'plain', { text: 'typed' }]);
  });

  it("onBeforeSend that gives a batched task a header of its own: dead as 'invalid', saying why, never sent without it", async () => {
    await r.reopen({ batch: { url: '/batch' }, onBeforeSend: (task) => ({ ...task, headers: { ...task.headers, 'x-trace': 't' } }) });
    await r.outbox.enqueueMany([{ url: '/a', body: { n: 1 } }, { url: '/b', body: { n: 2 } }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 2 });
    expect(r.events('dead').map((d) => [d.reason, d.error])).toEqual([
      ['invalid', expect.stringContaining('cannot travel in a batch')],
      ['invalid', expect.stringContaining('cannot travel in a batch')],
    ]);
    expect(r.server.received).toEqual([]);
  });
});
