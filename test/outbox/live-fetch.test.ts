import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentServer } from './fault-server.js';
import { collectGarbage } from '../support/collect-garbage.js';
import { rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig({ timeoutMs: 5000 });
});
afterEach(() => r.teardown());

const io = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('Outbox.fetch() and the order of a group', () => {
  it('a live request of a group with queued tasks is queued behind them (202), and goes after them', async () => {
    r.server.next({ status: 503 });
    await r.outbox.enqueue({ url: '/first', group: 'note-1' });
    await r.outbox.flush();
    const response = await r.outbox.fetch(`${r.server.url}/second`, { method: 'POST', body: 'x', group: 'note-1' });
    expect(response.status).toBe(202);
    const id = response.headers.get('Sluice-Queued');
    expect(r.server.received.map((x) => x.path)).toEqual(['/first']);
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/first', '/second']);
    expect(r.server.delivered[1]!.key).toBe(id);
  });

  it("its group may come in a 'Sluice-Group' header, which is neither sent nor stored", async () => {
    await r.outbox.enqueue({ url: '/first', group: 'g' });
    const response = await r.outbox.fetch(new Request(`${r.server.url}/second`, { method: 'POST', body: 'x', headers: { 'Sluice-Group': 'g', 'x-kept': '1' } }));
    expect(response.status).toBe(202);
    expect(await r.outbox.list()).toMatchObject([{ url: `${r.server.url}/first`, group: 'g' }, { url: `${r.server.url}/second`, group: 'g' }]);
    await r.outbox.flush();
    const second = r.server.received[1]!;
    expect(second.headers['sluice-group']).toBeUndefined();
    expect(second.headers['x-kept']).toBe('1');
  });

  it('with nothing queued for its group, it goes to the network first, whatever other groups hold', async () => {
    r.server.next({ status: 503 });
    await r.outbox.enqueue({ url: '/other', group: 'other' });
    await r.outbox.flush();
    const response = await r.outbox.fetch(new Request(`${r.server.url}/live`, { method: 'POST', body: 'x', headers: { 'Sluice-Group': 'mine' } }));
    expect(response.status).toBe(200);
    expect(r.server.received.at(-1)!.headers['sluice-group']).toBeUndefined();
  });

  it.each([1, 4])('a live 2xx proves the network is back: tasks waiting after a network error are tried at once, not at their backoff (partitions: %i)', async (partitions) => {
    await r.reopen({ partitions });
    // Groups spread over partitions 1 to 3 (none in 0, whose entry ids are the partition's own numbers), so that
    // each is found by its entry id.
    const groups = ['c', 'd', 'f', 'g', 'h', 'j', 'k', 'l'];
    r.server.script(() => ({ reset: true }));
    await r.outbox.enqueueMany(groups.map((group) => ({ url: `/stored/${group}`, group })));
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: groups.length });
    r.server.script(() => ({}));
    // On the fake clock no backoff ends by itself: without a success, the tasks still wait.
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: groups.length });
    expect((await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x', group: 'b' })).status).toBe(200);
    expect(await r.outbox.flush()).toMatchObject({ sent: groups.length, remaining: 0 });
    expect(r.server.delivered.map((x) => x.path).sort()).toEqual(['/live', ...groups.map((g) => `/stored/${g}`)].sort());
  });

  it('a request that fails, queued (202) or thrown, leaves no timer behind (one would keep a Node process alive)', async () => {
    r.server.next({ reset: true });
    expect((await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x' })).status).toBe(202);
    const controller = new AbortController();
    const aborted = r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x', group: 'other', signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toThrow();
    await r.outbox.close();
    expect(r.clock.pending).toBe(0);
  });

  it("a request without a group is in the default group: behind the default group's tasks", async () => {
    await r.outbox.enqueue({ url: '/queued' });
    expect((await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x' })).status).toBe(202);
    expect((await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x', group: 'elsewhere' })).status).toBe(200);
  });

  it("with ordering 'none' there is no order to keep: it goes to the network", async () => {
    await r.reopen({ ordering: 'none' });
    await r.outbox.enqueue({ url: '/queued' });
    expect((await r.outbox.fetch(`${r.server.url}/live`, { method: 'POST', body: 'x' })).status).toBe(200);
  });

  // Before, the second went to the network at once (nothing of its group was stored yet): it reached the server
  // first, and the first, stored on its network error, was delivered after it.
  it('a live request made while another of its group is out waits for it: the first is stored at its time limit, the second behind it', async () => {
    // Live, the first gets no answer and the second a reset: sent together, the second would be stored first.
    let live = true;
    r.server.script(({ path }) => (live ? (path === '/a' ? { hang: true } : { reset: true }) : undefined));
    const a = r.outbox.fetch(`${r.server.url}/a`, { method: 'POST', body: 'A', group: 'g' });
    await io();
    const b = r.outbox.fetch(`${r.server.url}/b`, { method: 'POST', body: 'B', group: 'g' });
    await io();
    r.clock.advance(5000);
    expect((await a).status).toBe(202);
    expect((await b).status).toBe(202);
    expect((await r.outbox.list()).map((t) => t.url)).toEqual([`${r.server.url}/a`, `${r.server.url}/b`]);
    live = false;
    r.clock.advance(1000);
    await r.outbox.flush();
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/a', '/b']);
  });

  it('one made while another of its group is out goes once that one is answered; other groups do not wait', async () => {
    r.server.next({ delayMs: 200 });
    const a = r.outbox.fetch(`${r.server.url}/a`, { method: 'POST', body: 'A', group: 'g' });
    await io();
    const b = r.outbox.fetch(`${r.server.url}/b`, { method: 'POST', body: 'B', group: 'g' });
    expect((await r.outbox.fetch(`${r.server.url}/c`, { method: 'POST', body: 'C', group: 'h' })).status).toBe(200);
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/c', '/a', '/b']);
  });

  it('the turn is taken at the call: one whose body is still being read is not passed by one made after it', async () => {
    let finish!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        c.enqueue(new Uint8Array(1));
        finish = () => c.close();
      },
    });
    const a = r.outbox.fetch(new Request(`${r.server.url}/a`, { method: 'POST', body, duplex: 'half' } as RequestInit), { group: 'g' });
    const b = r.outbox.fetch(`${r.server.url}/b`, { method: 'POST', body: 'B', group: 'g' });
    await io();
    finish();
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    expect(r.server.delivered.map((x) => x.path)).toEqual(['/a', '/b']);
  });

  it("with ordering 'none', live requests do not wait for each other", async () => {
    await r.reopen({ ordering: 'none' });
    r.server.next({ hang: true });
    const a = r.outbox.fetch(`${r.server.url}/a`, { method: 'POST', body: 'A' });
    await io();
    expect((await r.outbox.fetch(`${r.server.url}/b`, { method: 'POST', body: 'B' })).status).toBe(200);
    r.clock.advance(5000);
    expect((await a).status).toBe(202);
  });

  it("an abort while waiting for its group's turn rejects at once, and stores and sends nothing", async () => {
    r.server.next({ hang: true });
    const a = r.outbox.fetch(`${r.server.url}/a`, { method: 'POST', body: 'A', group: 'g' });
    await io();
    const controller = new AbortController();
    const b = r.outbox.fetch(`${r.server.url}/b`, { method: 'POST', body: 'B', group: 'g', signal: controller.signal });
    await io();
    controller.abort(new Error('gone'));
    await expect(b).rejects.toThrow('gone');
    r.clock.advance(5000);
    expect((await a).status).toBe(202);
    expect((await r.outbox.list()).map((t) => t.url)).toEqual([`${r.server.url}/a`]);
    expect(r.server.received.map((x) => x.path)).toEqual(['/a']);
  });
});

describe('Outbox.fetch() refuses bad input as every call does', () => {
  it('with a rejected promise (never a synchronous throw) carrying a SluiceError code', async () => {
    const calls: [string, () => Promise<Response>, string][] = [
      ['a URL fetch refuses', () => r.outbox.fetch('not a url'), 'ERR_INVALID_TASK'],
      ['a URL with credentials', () => r.outbox.fetch('https://user:pw@api.test/a'), 'ERR_INVALID_TASK'],
      ['a forbidden method', () => r.outbox.fetch('https://api.test/a', { method: 'TRACE' }), 'ERR_INVALID_TASK'],
      ['a GET with a body', () => r.outbox.fetch('https://api.test/a', { method: 'GET', body: 'x' }), 'ERR_INVALID_TASK'],
      ['a group that is not a string', () => r.outbox.fetch('https://api.test/a', { group: 5 as unknown as string }), 'ERR_INVALID_OPTION'],
    ];
    for (const [what, call, code] of calls) {
      let promise: Promise<Response> | undefined;
      expect(() => (promise = call()), what).not.toThrow();
      await expect(promise, what).rejects.toMatchObject({ name: 'SluiceError', code });
    }
    await r.outbox.close();
    let closed: Promise<Response> | undefined;
    expect(() => (closed = r.outbox.fetch('https://api.test/a'))).not.toThrow();
    await expect(closed).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(r.calls).toEqual([]);
  });

  it("says what fetch refused without fetch's words that quote a URL's password or a header's value, nor keeps them as the cause", async () => {
    const calls: [string, () => Promise<Response>][] = [
      ['a URL with credentials', () => r.outbox.fetch('https://alice:s3cret-pw@api.test/a')],
      ['a URL with credentials and one slash', () => r.outbox.fetch('http:/alice:s3cret-pw@api.test/a')],
      ['a URL with credentials and no slash', () => r.outbox.fetch('http:alice:s3cret-pw@api.test/a')],
      ['a header value with a lone surrogate', () => r.outbox.fetch('https://api.test/a', { headers: { authorization: 'Bearer s3cret-tok\uD83D' } })],
      ['a header value with a line break', () => r.outbox.fetch('https://api.test/a', { headers: { authorization: 'Bearer s3cret-tok\nX' } })],
      ['a header value with NUL, as pairs', () => r.outbox.fetch('https://api.test/a', { headers: [['cookie', 'session=s3cret-sid\0']] })],
    ];
    for (const [what, call] of calls) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error, what).toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_TASK', message: expect.stringContaining('Expected a request fetch accepts: ') });
      expect(String((error as Error).message), what).not.toContain('s3cret');
      expect((error as Error).cause, what).toBeUndefined();
    }
    expect(r.calls).toEqual([]);
  });
});

describe('Outbox.fetch() never hangs', () => {
  it('against a server that never answers: at timeoutMs the request is stored and answered 202', async () => {
    const silent = await silentServer();
    try {
      const answer = r.outbox.fetch(`${silent.url}/x`, { method: 'POST', body: 'payload' });
      while (silent.connections() < 1) await io();
      r.clock.advance(5000);
      const response = await answer;
      expect(response.status).toBe(202);
      expect(await r.outbox.list()).toMatchObject([{ id: response.headers.get('Sluice-Queued'), url: `${silent.url}/x` }]);
      expect(r.outbox.online).toBe(true);
    } finally {
      await silent.close();
    }
  });

  it('against a transport that ignores the abort signal: at timeoutMs the request is stored and answered 202', async () => {
    await r.reopen({ fetch: () => new Promise<Response>(() => undefined) });
    const answer = r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'payload' });
    await io();
    r.clock.advance(5000);
    const response = await answer;
    expect(response.status).toBe(202);
    expect(await r.outbox.list()).toMatchObject([{ id: response.headers.get('Sluice-Queued'), url: `${r.server.url}/x` }]);
  });

  it("a fetch of the app's that throws what is no network error, or answers what is no Response, fails the attempt: stored (202), the outbox online", async () => {
    const answers = [() => Promise.reject(new Error('a bug in a wrapper')), () => Promise.resolve(undefined), () => Promise.resolve({ status: '200' })];
    for (const answer of answers) {
      await r.reopen({ fetch: answer as unknown as typeof fetch });
      const response = await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'payload' });
      expect(response).toBeInstanceOf(Response);
      expect(response.status).toBe(202);
      expect(r.outbox.online).toBe(true);
    }
    expect(await r.outbox.size()).toBe(3);
  });

  it("a response whose body stalls: reading it fails at timeoutMs instead of hanging", async () => {
    r.server.next({ status: 200, stallBody: 'part' });
    const response = await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x' });
    const reading = response.text();
    await io();
    r.clock.advance(5000);
    await expect(reading).rejects.toBeDefined();
  });

  it('a response whose body stalls still fails at timeoutMs once the copies of its request are collected', async () => {
    r.server.next({ status: 200, stallBody: 'part' });
    const response = await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x' });
    const reading = response.text();
    await collectGarbage();
    r.clock.advance(5000);
    await expect(reading).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('leaves no timer behind once the body is read', async () => {
    r.server.next({ status: 200, body: 'ok' });
    const response = await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x' });
    expect(await response.text()).toBe('ok');
    expect(r.clock.pending).toBe(0);
  });
});

describe('Outbox.fetch() given what fetch refuses', () => {
  it('a relative URL in Node (no location to resolve against): ERR_INVALID_TASK saying to pass an absolute one, nothing stored', async () => {
    const refused = r.outbox.fetch('/notes', { method: 'POST', body: 'x' });
    await expect(refused).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('pass an absolute one') });
    expect(await r.outbox.size()).toBe(0);
  });

  it('an absolute URL refused for another reason is not told about relative URLs', async () => {
    const refused = r.outbox.fetch(`${r.server.url}/x`, { method: 'GET', body: 'x' });
    await expect(refused).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    await expect(refused).rejects.not.toMatchObject({ message: expect.stringContaining('relative') });
  });
});

describe("Outbox.fetch() and the caller's signal", () => {
  const mine = new Error('cancelled by the page');

  it('an abort while the server is silent rejects with its reason, and the request is neither stored nor sent later', async () => {
    r.server.next({ hang: true });
    const controller = new AbortController();
    const answer = r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x', signal: controller.signal });
    await collectGarbage();
    controller.abort(mine);
    await expect(answer).rejects.toBe(mine);
    r.clock.advance(5000);
    expect(await r.outbox.size()).toBe(0);
  });

  it('an abort while the body arrives errors the body with its reason, once the copies of the request are collected', async () => {
    r.server.next({ status: 200, stallBody: 'part' });
    const controller = new AbortController();
    const response = await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x', signal: controller.signal });
    const reading = response.text();
    await collectGarbage();
    controller.abort(mine);
    await expect(reading).rejects.toBe(mine);
  });

  it("reaches a transport that ignores its signal: the call rejects at once instead of storing the request at timeoutMs", async () => {
    await r.reopen({ fetch: () => new Promise<Response>(() => undefined) });
    const controller = new AbortController();
    const answer = r.outbox.fetch(new Request(`${r.server.url}/x`, { method: 'POST', body: 'x', signal: controller.signal }));
    await io();
    controller.abort(mine);
    await expect(answer).rejects.toBe(mine);
    r.clock.advance(5000);
    expect(await r.outbox.size()).toBe(0);
  });

  it('a signal the app keeps for every call holds nothing of an attempt past its time limit, its body never read', async () => {
    const app = new AbortController();
    for (let i = 0; i < 3; i++) {
      r.server.next({ status: 200, body: 'ok' });
      expect((await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x', signal: app.signal })).status).toBe(200);
    }
    r.clock.advance(5000);
    expect(getEventListeners(app.signal, 'abort')).toHaveLength(0);
  });

  it('an abort just after the call, while the request is read and its group looked at: rejected, not stored behind the group', async () => {
    await r.outbox.enqueue({ url: '/first', group: 'g' });
    const controller = new AbortController();
    const answer = r.outbox.fetch(`${r.server.url}/second`, { method: 'POST', body: 'x', group: 'g', signal: controller.signal });
    controller.abort(mine);
    await expect(answer).rejects.toBe(mine);
    expect(await r.outbox.size()).toBe(1);
  });

  it('a body read after the abort, or after timeoutMs, rejects its read and nothing else (no unhandled rejection)', async () => {
    for (const end of ['abort', 'timeout'] as const) {
      r.server.next({ status: 200, body: 'ok' });
      const controller = new AbortController();
      const response = await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x', signal: controller.signal });
      await io();
      if (end === 'abort') controller.abort(mine);
      else r.clock.advance(5000);
      await expect(response.text()).rejects.toBeDefined();
      await io();
    }
  });

  it('an abort before the call rejects with its reason and stores nothing, even behind tasks of its group', async () => {
    await r.outbox.enqueue({ url: '/first', group: 'g' });
    const controller = new AbortController();
    controller.abort(mine);
    await expect(r.outbox.fetch(`${r.server.url}/second`, { method: 'POST', body: 'x', group: 'g', signal: controller.signal })).rejects.toBe(mine);
    expect(await r.outbox.size()).toBe(1);
  });
});

describe('Outbox.fetch() and a streamed body', () => {
  const mine = new Error('cancelled by the page');
  /** A body that gives `bytes` at once, then waits; `cancelled` holds why it was cancelled, once it is. */
  const stalling = (bytes: number) => {
    const state: { cancelled?: unknown; end?: () => void } = {};
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        if (bytes > 0) c.enqueue(new Uint8Array(bytes).fill(7));
        state.end = () => c.close();
      },
      cancel: (reason) => void (state.cancelled = reason ?? 'cancelled'),
    });
    return { body, state };
  };
  const post = (url: string, body: ReadableStream<Uint8Array>, init: RequestInit = {}) => new Request(url, { method: 'POST', body, duplex: 'half', ...init } as RequestInit);

  it('one that stalls before its first 64 KiB is refused at timeoutMs (not sent, not stored, its stream cancelled), and its group goes on', async () => {
    const { body, state } = stalling(10);
    const answer = r.outbox.fetch(post(`${r.server.url}/upload`, body), { group: 'g' });
    const next = r.outbox.fetch(`${r.server.url}/next`, { method: 'POST', body: 'x', group: 'g' });
    await io();
    r.clock.advance(5000);
    await expect(answer).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('within 5000 ms') });
    expect((await next).status).toBe(200);
    expect(state.cancelled).toBeDefined();
    expect(r.server.received.map((x) => x.path)).toEqual(['/next']);
    expect(await r.outbox.size()).toBe(0);
  });

  it("one that stalls before its first 64 KiB: the caller's abort rejects at once with its reason", async () => {
    const { body } = stalling(10);
    const controller = new AbortController();
    const answer = r.outbox.fetch(post(`${r.server.url}/upload`, body, { signal: controller.signal }));
    await io();
    controller.abort(mine);
    await expect(answer).rejects.toBe(mine);
    expect(await r.outbox.size()).toBe(0);
  });

  it('one past 64 KiB that stalls while it is stored (the server silent): an abort rejects, and nothing is stored or sent', async () => {
    const silent = await silentServer();
    try {
      const { body, state } = stalling(100_000);
      const controller = new AbortController();
      const answer = r.outbox.fetch(post(`${silent.url}/upload`, body, { signal: controller.signal }));
      while (silent.connections() < 1) await io();
      r.clock.advance(5000);
      await io();
      controller.abort(mine);
      await expect(answer).rejects.toBe(mine);
      state.end!();
      await io();
      expect(await r.outbox.size()).toBe(0);
      expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 0 });
    } finally {
      await silent.close();
    }
  });

  it('one past 64 KiB whose live try times out is stored once its stream ends (202)', async () => {
    const silent = await silentServer();
    try {
      const { body, state } = stalling(100_000);
      const answer = r.outbox.fetch(post(`${silent.url}/upload`, body));
      while (silent.connections() < 1) await io();
      r.clock.advance(5000);
      await io();
      state.end!();
      const response = await answer;
      expect(response.status).toBe(202);
      expect(await r.outbox.list()).toMatchObject([{ id: response.headers.get('Sluice-Queued'), url: `${silent.url}/upload` }]);
    } finally {
      await silent.close();
    }
  });
});

describe('Outbox.fetch() refuses at once what it could not store', () => {
  it.each([
    ['an Idempotency-Key no task id can be', { headers: { 'Idempotency-Key': 'a,b' } }, '`id`'],
    ['an empty Sluice-Group header', { headers: { 'Sluice-Group': ' ' } }, '`group`'],
  ])('%s: ERR_INVALID_TASK before the network, online as offline', async (_, init, field) => {
    await expect(r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x', ...init })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining(field) });
    expect(r.server.received).toEqual([]);
  });

  it('a port fetch refuses: ERR_INVALID_TASK, and the outbox is not taken offline', async () => {
    await expect(r.outbox.fetch('http://127.0.0.1:6000/x', { method: 'POST', body: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    expect(r.outbox.online).toBe(true);
    expect(r.events('offline')).toEqual([]);
  });

  it('Connection and Content-Length, which Node lets a Request carry, are left to fetch: the request is stored when the network fails', async () => {
    r.server.next({ reset: true });
    const request = new Request(`${r.server.url}/x`, { method: 'POST', body: 'xyz', headers: { Connection: 'close', 'Content-Length': '3' } });
    const response = await r.outbox.fetch(request);
    expect(response.status).toBe(202);
    r.clock.advance(5000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.delivered.map((x) => x.body.toString())).toEqual(['xyz']);
  });

  it("a streamed body whose own source fails after 64 KiB is refused (ERR_INVALID_TASK), and is no network error: the outbox stays online", async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => (sent++ < 2 ? c.enqueue(new Uint8Array(50_000)) : c.error(new Error('disk read failed'))),
    });
    const answer = r.outbox.fetch(new Request(`${r.server.url}/x`, { method: 'POST', body, duplex: 'half' } as RequestInit));
    await expect(answer).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    expect(r.outbox.online).toBe(true);
    expect(r.events('offline')).toEqual([]);
    expect(await r.outbox.size()).toBe(0);
  });
});

describe('Outbox.fetch() and close()', () => {
  it('a close waits for a live request out: stored (202) at its time limit, there after a restart', async () => {
    r.server.next({ hang: true });
    const answer = r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x' });
    while (r.server.received.length === 0) await io();
    let closed = false;
    const closing = r.outbox.close().then(() => (closed = true));
    await io();
    expect(closed).toBe(false);
    r.clock.advance(5000);
    const response = await answer;
    expect(response.status).toBe(202);
    await closing;
    await r.open();
    expect(await r.outbox.list()).toMatchObject([{ id: response.headers.get('Sluice-Queued'), url: `${r.server.url}/x` }]);
  });
});

describe('Outbox.fetch() answers as fetch does', () => {
  it('its response says where it came from: a redirected one keeps its url, redirected and type', async () => {
    r.server.next({ status: 302, headers: { location: '/login' } });
    r.server.next({ status: 200, body: 'login page' });
    const response = await r.outbox.fetch(`${r.server.url}/notes`, { method: 'POST', body: 'x' });
    expect({ status: response.status, url: response.url, redirected: response.redirected, type: response.type }).toEqual({ status: 200, url: `${r.server.url}/login`, redirected: true, type: 'basic' });
    expect(response.clone().redirected).toBe(true);
    expect(await response.text()).toBe('login page');
  });

  it("a transport's answer like a Response, its body a Node stream (as README allows), is read as fetch's would be", async () => {
    const { Readable } = await import('node:stream');
    await r.reopen({ fetch: async () => ({ status: 200, statusText: 'OK', ok: true, headers: new Headers(), body: Readable.from([Buffer.from('hi')]), arrayBuffer: async () => new TextEncoder().encode('hi').buffer }) as unknown as Response });
    const response = await r.outbox.fetch(`${r.server.url}/x`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hi');
  });
});
