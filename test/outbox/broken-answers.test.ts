// Servers that answer, but not as fetch can take it: a reason phrase outside ASCII, a 2xx whose body breaks off, a
// header byte fetch refuses. The server acted on each request: none may pass for a network failure.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';
import { FakeClock } from '../support/fake-clock.js';

let server: Server;
const sockets = new Set<Socket>();
let outbox: Outbox | undefined;
const hits = { broken: 0, ok: 0 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw HTTP/1.1 server: POST /broken is answered by `broken`, anything else 200 with `okBody`. */
async function serve(broken: (socket: Socket) => void): Promise<string> {
  hits.broken = hits.ok = 0;
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (data) => {
      buffered += data.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        if (/^POST \/broken/.test(head)) {
          hits.broken++;
          broken(socket);
        } else {
          hits.ok++;
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An answer of `status` whose reason phrase is `phrase`'s bytes, with a JSON body. */
const answer = (status: number, phrase: Buffer) => (socket: Socket) =>
  socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 ${status} `), phrase, Buffer.from('\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{"id":42}')]));

/**
 * An outbox on `url` (`ordering: 'none'`, 1 s initial delay) holding a task to /broken, started, while a task to /ok is
 * enqueued every 25 ms for 2.5 s; resolves how many times it went offline. The jitter draws the middle of its range
 * (delays of 0.5 s, 1 s, 2 s): full jitter may draw delays near 0 in a row, and then tries counted in 2.5 s told nothing.
 */
async function besideOthers(url: string, options: { concurrency?: number; store?: MemoryStore } = {}): Promise<number> {
  outbox = await Outbox.open({ name: 'beside', store: new MemoryStore(), baseUrl: url, ordering: 'none', retry: { initialDelayMs: 1000 }, random: () => 0.5, ...options });
  let offline = 0;
  outbox.addEventListener('offline', () => offline++);
  await outbox.enqueue({ url: '/broken', body: 'work' });
  outbox.start();
  const until = Date.now() + 2500;
  while (Date.now() < until) {
    await outbox.enqueue({ url: '/ok', body: 'x' });
    await sleep(25);
  }
  return offline;
}

/** Node's fetch as it rejects once it gave up by itself (its 300 s limits), with undici's `code`. */
const gaveUp = (code: string) => () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('Headers Timeout Error'), { code }) }));

afterEach(async () => {
  await outbox?.close();
  outbox = undefined;
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await new Promise((resolve) => server.close(resolve));
});

describe('a reason phrase outside ASCII (Node\'s fetch decodes it as UTF-8; the Response constructor refuses the text)', () => {
  it.each([
    ['a Latin-1 byte (Ærgerlig)', 200, Buffer.from('\xc6rgerlig', 'latin1')],
    ['UTF-8 beyond Latin-1 (Неверно)', 400, Buffer.from('Неверно', 'utf8')],
    ['a DEL', 200, Buffer.from('O\x7fK', 'latin1')],
  ])('Outbox.fetch hands the caller the answer (%s), and never stores the request to send it again', async (_, status, phrase) => {
    const url = await serve(answer(status, phrase));
    outbox = await Outbox.open({ name: 'phrase', store: new MemoryStore(), baseUrl: url });
    const response = await outbox.fetch(`${url}/broken`, { method: 'POST', body: 'x' });
    expect(response.headers.get('sluice-queued')).toBeNull();
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ id: 42 });
    expect(await outbox.size()).toBe(0);
    await outbox.flush();
    expect(hits.broken).toBe(1);
  });

  it("a 'sent' listener reads the body of a 2xx whose reason phrase is not ASCII", async () => {
    const url = await serve(answer(201, Buffer.from('Cr\xe9\xe9', 'latin1')));
    outbox = await Outbox.open({ name: 'phrase', store: new MemoryStore(), baseUrl: url });
    let body: Promise<unknown> | undefined;
    outbox.addEventListener('sent', (e) => (body = e.detail.response!.json()));
    await outbox.enqueue({ url: '/broken', body: 'y' });
    expect(await outbox.flush()).toMatchObject({ sent: 1 });
    await expect(body).resolves.toEqual({ id: 42 });
  });
});

describe('Outbox.fetch answered with what fetch cannot read (a header byte it refuses)', () => {
  it('stores the request to go again, as any failed request, but the outbox stays online: its host answered', async () => {
    const url = await serve((s: Socket) => s.write('HTTP/1.1 200 OK\r\nx: \x01\r\ncontent-length: 0\r\n\r\n'));
    outbox = await Outbox.open({ name: 'unreadable', store: new MemoryStore(), baseUrl: url });
    let offline = 0;
    outbox.addEventListener('offline', () => offline++);
    const response = await outbox.fetch(`${url}/broken`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(202);
    expect(await outbox.size()).toBe(1);
    await sleep(50);
    expect(offline).toBe(0);
  });
});

describe('a task whose answer came but broke waits its backoff, not for the next success at its host', () => {
  it.each([
    ['a 200 whose body is reset mid-way', (s: Socket) => (s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf'), setTimeout(() => s.resetAndDestroy(), 5))],
    ['a 200 whose header holds a byte fetch refuses', (s: Socket) => s.write('HTTP/1.1 200 OK\r\nx: \x01\r\ncontent-length: 0\r\n\r\n')],
    // Node's fetch fails an assertion of its own on a status under 100.
    ['a status under 100 (HTTP/1.1 0)', (s: Socket) => s.write('HTTP/1.1 0 Zero\r\ncontent-length: 0\r\n\r\n')],
    ['a 503 (as any answer the server gave)', (s: Socket) => s.write('HTTP/1.1 503 X\r\ncontent-length: 0\r\n\r\n')],
  ])('%s: tried again after its delay while other tasks to its host succeed, and the outbox never goes offline', async (_, broken) => {
    const offline = await besideOthers(await serve(broken));
    expect(hits.ok).toBeGreaterThan(10);
    // Tries at 0, 0.5 s and 1.5 s (the next at 3.5 s): a loaded machine makes them later, never more.
    expect(hits.broken).toBeGreaterThanOrEqual(2);
    expect(hits.broken).toBeLessThanOrEqual(3);
    expect(offline).toBe(0);
  });
});

describe('a request its server resets every time (a "poison" request), while the host answers the rest', () => {
  it('goes again at the first success at its host, then keeps to its backoff', async () => {
    // Reset once it has been read a moment (a worker that crashes on it), while others are answered meanwhile.
    await besideOthers(await serve((s: Socket) => void setTimeout(() => s.resetAndDestroy(), 100)), { concurrency: 4 });
    expect(hits.ok).toBeGreaterThan(10);
    // Once at the first success after each failure would be one request per success: dozens.
    // At 0, at the first success after it, then after its delay of 1 s (the next 2 s later).
    expect(hits.broken).toBeLessThanOrEqual(3);
  });

  it('tells the other handles it waits on the server, not the network, once it failed after a success sent it early', async () => {
    // Another handle that delivers next files the wait by this cause: on the network's, its host's next success
    // would send it again at once, the storm this handle keeps from.
    const store = new MemoryStore();
    const channel = new BroadcastChannel(`sluice-outbox:${store.scope}:beside`);
    const causes: string[] = [];
    channel.onmessage = (event: MessageEvent) => {
      for (const message of event.data as { type: string; cause?: string; detail: { task: { url: string } } }[]) {
        if (message.type === 'retry' && message.detail.task.url.endsWith('/broken')) causes.push(message.cause!);
      }
    };
    try {
      await besideOthers(await serve((s: Socket) => void setTimeout(() => s.resetAndDestroy(), 100)), { concurrency: 4, store });
      await sleep(50);
      expect(causes[0]).toBe('network');
      expect(causes.length).toBeGreaterThan(1);
      expect(causes.slice(1)).toEqual(causes.slice(1).map(() => 'server'));
    } finally {
      channel.close();
    }
  });
});

describe('what Node\'s fetch does on its own', () => {
  it('gives up after 300 s without headers or between body chunks: a timeout, as timeoutMs\'s, not a network failure that takes the outbox offline', async () => {
    for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
      outbox = await Outbox.open({ name: `undici-${code}`, store: new MemoryStore(), fetch: gaveUp(code) });
      let offline = 0;
      outbox.addEventListener('offline', () => offline++);
      await outbox.enqueue({ url: 'https://api.test/t', body: 'x' });
      expect(await outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
      expect(offline).toBe(0);
      await outbox.close();
      outbox = undefined;
    }
    await serve(() => undefined);
  });

  it('Outbox.fetch: stored to go again, as a timeout, and the outbox stays online', async () => {
    outbox = await Outbox.open({ name: 'undici-live', store: new MemoryStore(), fetch: gaveUp('UND_ERR_HEADERS_TIMEOUT') });
    let offline = 0;
    outbox.addEventListener('offline', () => offline++);
    const response = await outbox.fetch('https://api.test/t', { method: 'POST', body: 'x' });
    expect(response.status).toBe(202);
    expect(offline).toBe(0);
    await serve(() => undefined);
  });

  it('passes a status of 600 to 999 on: read, its response lets go of its time limit\'s timer (and of the process)', async () => {
    const url = await serve(answer(600, Buffer.from('Odd')));
    const clock = new FakeClock();
    outbox = await Outbox.open({ name: 'odd', store: new MemoryStore(), clock });
    const idle = clock.pending;
    const response = await outbox.fetch(`${url}/broken`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(600);
    // A clone (a service worker's cache.put, a second reader) says what the server said too.
    const clone = response.clone();
    expect([clone.status, clone.ok, clone.clone().status]).toEqual([600, false, 600]);
    expect(await clone.json()).toEqual({ id: 42 });
    expect(await response.json()).toEqual({ id: 42 });
    expect(clock.pending).toBe(idle);
  });
});

describe('a close while a request is out, on a test\'s clock that nobody advances', () => {
  it('waits for its answer, acks it at once (not held for more acks to join on that clock), and ends', async () => {
    let arrived!: () => void;
    const out = new Promise<void>((resolve) => (arrived = resolve));
    const url = await serve((s: Socket) => (arrived(), setTimeout(() => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 300)));
    const store = new MemoryStore();
    outbox = await Outbox.open({ name: 'closing', store, baseUrl: url, clock: new FakeClock() });
    await outbox.enqueue({ url: '/broken', body: 'x' });
    outbox.start();
    await out;
    const closed = outbox.close().then(() => 'closed');
    expect(await Promise.race([closed, sleep(5_000).then(() => 'still closing')])).toBe('closed');
    outbox = await Outbox.open({ name: 'closing', store, baseUrl: url, clock: new FakeClock() });
    expect(await outbox.size()).toBe(0);
  });
});
