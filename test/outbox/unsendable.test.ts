import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/fs.js';
import { Outbox } from '../../src/outbox/outbox.js';
import type { HttpTask } from '../../src/outbox/task.js';
import { FakeClock } from '../support/fake-clock.js';
import { next, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe('Outbox.enqueue() refuses what cannot be sent, storing nothing', () => {
  it('header injection attempts, bad ids, credentials in the URL, forbidden methods, unknown mode', async () => {
    const refused: HttpTask[] = [
      { url: '/x', headers: { 'x-note': 'a\r\nx-admin: true' } },
      { url: '/x', headers: { 'x-note': 'ok\nGET /admin HTTP/1.1' } },
      { url: '/x', headers: { 'x-note': 'nul\0byte' } },
      { url: '/x', headers: { 'x-note': 'snow \u2603' } },
      { url: '/x', headers: { 'x no': 'spaces' } },
      { url: '/x', id: 'two\r\nlines' },
      { url: '/x', id: 'a,b' },
      { url: `${r.server.url.replace('//', '//user:pw@')}/x` },
      { url: '/x', method: 'TRACE' },
      { url: '/x', method: 'CONNECT' },
      { url: '/x', mode: 'websocket' as 'cors' },
      { url: '/x', credentials: 'sometimes' as 'omit' },
      { url: '/x', method: 'GET', body: 'x' },
      // Headers the transport sets itself: Node's fetch throws on them (or waits out a Content-Length never reached).
      { url: '/x', method: 'POST', body: 'x', headers: { expect: '100-continue' } },
      { url: '/x', method: 'POST', body: 'x', headers: { 'Transfer-Encoding': 'chunked' } },
      { url: '/x', method: 'POST', body: 'xyz', headers: { 'content-length': '1' } },
      { url: '/x', headers: { connection: 'upgrade' } },
      { url: '/x', headers: { 'keep-alive': 'timeout=5' } },
      { url: '/x', headers: { upgrade: 'h2c' } },
      // Ports fetch refuses to connect to ("bad ports": X11, IRC, SMTP…), and 0: every attempt would fail as offline.
      { url: 'http://127.0.0.1:6000/x' },
      { url: 'https://api.example.test:10080/x' },
      { url: 'http://127.0.0.1:0/x' },
      // fetch refuses other methods than GET, HEAD and POST in mode 'no-cors'.
      { url: '/x', method: 'PUT', mode: 'no-cors', body: 'v2' },
      { url: '/x', method: 'delete', mode: 'no-cors' },
    ];
    for (const task of refused) {
      await expect(r.outbox.enqueue(task), JSON.stringify(task)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    }
    // All or nothing: one bad task refuses the lot.
    await expect(r.outbox.enqueueMany([{ url: '/ok' }, refused[0]!])).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    expect(await r.outbox.size()).toBe(0);
    await r.outbox.flush();
    expect(r.server.received).toEqual([]);
  });

  it('a Request whose Idempotency-Key is unusable is refused too', async () => {
    const request = new Request(`${r.server.url}/x`, { method: 'POST', body: 'x', headers: { 'idempotency-key': 'a,b' } });
    await expect(r.outbox.enqueue(request)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
  });

  it('a Request carrying a header the transport sets itself is refused, naming it', async () => {
    const request = new Request(`${r.server.url}/x`, { method: 'POST', body: 'x', headers: { expect: '100-continue' } });
    await expect(r.outbox.enqueue(request)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('`headers.expect`') });
  });
});

describe('a request that cannot be built at send time is a verdict on that task', () => {
  it("headers() returning a value with a line break: dead 'invalid', online, naming the header, never its value", async () => {
    await r.reopen({ headers: () => ({ 'x-api-key': 'k3y\r\nx-injected: 1' }) });
    await r.outbox.enqueue({ url: '/x' });
    expect(await r.outbox.flush()).toMatchObject({ dead: 1, retried: 0 });
    expect(r.calls).toEqual([]);
    expect(r.outbox.online).toBe(true);
    const [letter] = await r.outbox.dead.list();
    expect(letter).toMatchObject({ reason: 'invalid', error: expect.stringContaining('x-api-key') });
    expect(letter!.error).not.toContain('k3y');
  });

  it("headers() throwing (even a TypeError, what fetch's network errors are): a retry, not offline, and sent once it works", async () => {
    let broken = true;
    await r.reopen({
      headers: () => {
        if (broken) throw new TypeError('token store unavailable');
        return { authorization: 'Bearer t' };
      },
    });
    await r.outbox.enqueue({ url: '/x' });
    const retry = next<{ error: string; attempts: number }>(r.outbox, 'retry');
    expect(await r.outbox.flush()).toMatchObject({ dead: 0, retried: 1, remaining: 1 });
    expect(await retry).toMatchObject({ attempts: 1, error: expect.stringContaining('`headers()` threw: token store unavailable') });
    expect(r.calls).toEqual([]);
    expect(r.outbox.online).toBe(true);
    expect(r.events('offline')).toEqual([]);
    expect(await r.outbox.dead.list()).toEqual([]);
    broken = false;
    r.clock.advance(600_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.calls).toHaveLength(1);
  });

  it("headers() awaiting a token fetch that fails offline (the README's provider): each attempt a retry, none a burial for it", async () => {
    await r.reopen({ headers: async () => ({ authorization: `Bearer ${await (await fetch('http://127.0.0.1:1/token')).text()}` }) });
    await r.outbox.enqueue({ url: '/x' });
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await r.outbox.flush()).toMatchObject({ dead: 0, retried: 1, remaining: 1 });
      expect(await r.outbox.list()).toMatchObject([{ state: 'retrying', attempts: attempt, lastError: expect.stringContaining('`headers()` threw') }]);
      r.clock.advance(600_000);
    }
    expect(r.calls).toEqual([]);
  });

  it("headers() returning a header the transport sets itself: dead 'invalid', not offline, the group goes on", async () => {
    let sends = 0;
    await r.reopen({ headers: (): Record<string, string> => (sends++ === 0 ? { 'transfer-encoding': 'chunked' } : {}) });
    await r.outbox.enqueueMany([{ url: '/a', group: 'g' }, { url: '/b', group: 'g' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 1, retried: 0, remaining: 0 });
    expect(r.events('offline')).toEqual([]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'invalid', error: expect.stringContaining('transfer-encoding') }]);
  });

  it("a request fetch itself refuses to make (undici's invalid-argument errors): dead 'invalid', not a network error", async () => {
    // A transport that adds what Node's fetch refuses: the TypeError it rejects with is no network failure.
    await r.reopen({ fetch: (input, init) => globalThis.fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), expect: '100-continue' } }) });
    await r.outbox.enqueueMany([{ url: '/a', group: 'g' }, { url: '/b', group: 'g' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 2, retried: 0, remaining: 0 });
    expect(r.outbox.online).toBe(true);
    expect(r.events('offline')).toEqual([]);
    expect(await r.outbox.dead.list()).toMatchObject([
      { reason: 'invalid', error: expect.stringContaining('expect header not supported') },
      { reason: 'invalid' },
    ]);
  });

  it("a request to a port fetch refuses (one stored before such ports were refused at enqueue): dead 'invalid', not offline", async () => {
    // The real fetch, on a bad port: Node refuses it before connecting, with a TypeError as a network failure would.
    await r.reopen({ fetch: (input, init) => globalThis.fetch(String(input).replace(/:\d+\//, ':6667/'), init) });
    await r.outbox.enqueueMany([{ url: '/a', group: 'g' }, { url: '/b', group: 'g' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 2, retried: 0, remaining: 0 });
    expect(r.outbox.online).toBe(true);
    expect(r.events('offline')).toEqual([]);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'invalid', error: expect.stringContaining('bad port') }, { reason: 'invalid' }]);
  });

  it("onBeforeSend throwing or returning an invalid task: dead 'invalid', and the group goes on", async () => {
    await r.reopen({
      onBeforeSend: (task) => {
        if (task.id === 'a') throw new Error('no local id yet');
        if (task.id === 'b') return { ...task, headers: { 'x-bad': 'line\nbreak' } };
        return task;
      },
    });
    await r.outbox.enqueueMany([
      { url: '/a', id: 'a', group: 'g' },
      { url: '/b', id: 'b', group: 'g' },
      { url: '/c', id: 'c', group: 'g' },
    ]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 2, remaining: 0 });
    expect(r.server.delivered.map((x) => x.key)).toEqual(['c']);
    const dead = await r.outbox.dead.list();
    expect(dead.map((d) => [d.task.id, d.reason])).toEqual([
      ['a', 'invalid'],
      ['b', 'invalid'],
    ]);
    expect(dead[0]!.error).toContain('no local id yet');
  });

  it('a hook or transport that throws a value without a prototype (no toString) is told as any other throw', async () => {
    const bare = () => Object.assign(Object.create(null) as object, { why: 'bare' });
    await r.reopen({
      onBeforeSend: (task) => {
        if (task.id === 'a') throw bare();
        return task;
      },
      headers: () => {
        throw bare();
      },
    });
    await r.outbox.enqueueMany([{ url: '/a', id: 'a' }, { url: '/b', id: 'b' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, dead: 1, retried: 1 });
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id: 'a' }, reason: 'invalid', error: expect.stringContaining('[object Object]') }]);
    expect(r.events('retry')).toMatchObject([{ task: { id: 'b' }, error: expect.stringContaining('[object Object]') }]);
    expect(r.events('error')).toEqual([]);
  });
});

/** Every byte under `dir`, as one string. */
function everything(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out += statSync(path).isDirectory() ? everything(path) : readFileSync(path).toString('latin1');
  }
  return out;
}

describe('secrets never reach storage, also inside error text', () => {
  it('a transport error quoting a headers() value is scrubbed from dead letters, events and list()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-secrets-'));
    const secret = 'Bearer sk_live_0123456789';
    const clock = new FakeClock();
    // As undici words it when a value is refused: the value, quoted, in the message.
    const transport: typeof fetch = async (_input, init) => {
      const value = (init?.headers as Record<string, string>).authorization!;
      throw new TypeError(`Headers.append: "${value}" is an invalid header value.`);
    };
    const outbox = await Outbox.open({ name: 'api', store: new FileStore({ dir }), clock, baseUrl: r.server.url, fetch: transport, headers: () => ({ authorization: secret }), retry: { maxAttempts: 2 } });
    try {
      const errors: string[] = [];
      outbox.addEventListener('retry', (e) => errors.push(e.detail.error!));
      outbox.addEventListener('dead', (e) => errors.push(e.detail.error!));
      await outbox.enqueue({ url: '/x' });
      await outbox.flush();
      const [listed] = await outbox.list();
      expect(listed!.lastError).toContain('[redacted]');
      clock.advance(300_000);
      await outbox.flush();
      const [letter] = await outbox.dead.list();
      expect(letter!.error).toMatch(/Headers\.append: "\[redacted\]"/);
      expect(errors).toHaveLength(2);
      for (const text of [...errors, listed!.lastError!, letter!.error!]) expect(text).not.toContain('sk_live');
      expect(everything(dir)).not.toContain('sk_live');
    } finally {
      await outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("headers onBeforeSend adds for a send (a token made per task) are that send's: not in events' task, scrubbed from error text", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-secrets-'));
    const clock = new FakeClock();
    let fail = true;
    const transport: typeof fetch = async (_input, init) => {
      if (!fail) return new Response('ok');
      throw new Error(`proxy refused request with authorization ${(init?.headers as Record<string, string>).authorization}`);
    };
    const onBeforeSend = (task: HttpTask) => ({ ...task, headers: { ...task.headers, authorization: `Bearer obs-${task.url.slice(-2)}-0123456789` } });
    const outbox = await Outbox.open({ name: 'api', store: new FileStore({ dir }), clock, baseUrl: r.server.url, fetch: transport, onBeforeSend, retry: { maxAttempts: 2 } });
    try {
      const seen: unknown[] = [];
      for (const type of ['retry', 'dead', 'sent'] as const) outbox.addEventListener(type, (e) => seen.push(e.detail));
      await outbox.enqueue({ url: '/a1', headers: { 'x-trace': 'kept' } });
      await outbox.flush();
      clock.advance(300_000);
      await outbox.flush();
      fail = false;
      await outbox.enqueue({ url: '/a2', headers: { 'x-trace': 'kept' } });
      await outbox.flush();
      expect(seen).toHaveLength(3);
      for (const detail of seen) expect((detail as { task: HttpTask }).task.headers).toEqual({ 'x-trace': 'kept' });
      const [letter] = await outbox.dead.list();
      expect(letter!.error).toBe('proxy refused request with authorization [redacted]');
      expect(JSON.stringify(seen)).not.toContain('obs-');
      expect(everything(dir)).not.toContain('obs-');
    } finally {
      await outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
