import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { Queue } from '../../src/core/queue.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { BodyRef } from '../../src/outbox/body.js';
import { CHUNK } from '../../src/outbox/body-store.js';
import { blobKeys, bytes, MiB, same } from './body-bytes.js';
import { rig, type Rig } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe('large bodies are stored beside their tasks, streamed on send, and deleted with them', () => {
  it('a File of 1.5 MiB: stored in chunks, sent byte for byte with its type, its blob gone once sent', async () => {
    const data = bytes(1.5 * MiB);
    const id = await r.outbox.enqueue({ url: '/photos', body: new File([data], 'photo.jpg', { type: 'image/jpeg' }) });
    expect(await blobKeys(r)).toHaveLength(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    const [got] = r.server.received;
    expect(got).toMatchObject({ path: '/photos', key: id });
    expect(got!.headers['content-type']).toBe('image/jpeg');
    expect(got!.headers['content-length']).toBe(String(data.length));
    expect(same(got!.body, data)).toBe(true);
    expect(await blobKeys(r)).toEqual([]);
  });

  it('ArrayBuffer, typed arrays and DataView: small ones inside the task, large ones beside it; all sent as bytes', async () => {
    const small = bytes(1000);
    const large = bytes(200_000, 3);
    await r.outbox.enqueueMany([
      { url: '/1', body: small.buffer },
      { url: '/2', body: new Int16Array(small.buffer) },
      { url: '/3', body: new DataView(large.buffer, 1000, 150_000) },
      { url: '/4', body: Buffer.from(large) },
    ]);
    expect(await blobKeys(r)).toHaveLength(2);
    expect(await r.outbox.flush()).toMatchObject({ sent: 4 });
    const got = r.server.received.map((x) => new Uint8Array(x.body));
    expect(same(got[0]!, small)).toBe(true);
    expect(same(got[1]!, small)).toBe(true);
    expect(same(got[2]!, large.subarray(1000, 151_000))).toBe(true);
    expect(same(got[3]!, large)).toBe(true);
  });

  it('FormData with files: sent as multipart whose boundary matches its content type', async () => {
    const form = new FormData();
    form.append('note', 'hello');
    form.append('photo', new File([bytes(300_000)], 'a.png', { type: 'image/png' }));
    await r.outbox.enqueue({ url: '/form', body: form, headers: { 'content-type': 'multipart/form-data' } });
    await r.outbox.flush();
    const [got] = r.server.received;
    expect(got!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const parsed = await new Response(new Uint8Array(got!.body), { headers: { 'content-type': got!.headers['content-type'] as string } }).formData();
    expect(parsed.get('note')).toBe('hello');
    const photo = parsed.get('photo') as File;
    expect(photo.name).toBe('a.png');
    expect(same(new Uint8Array(await photo.arrayBuffer()), bytes(300_000))).toBe(true);
  });

  it('a ReadableStream and a Node Readable', async () => {
    const data = bytes(700_000, 5);
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < data.length; at += 100_000) controller.enqueue(data.slice(at, at + 100_000));
        controller.close();
      },
    });
    const node = Readable.from((function* () {
      for (let at = 0; at < data.length; at += 65_536) yield Buffer.from(data.subarray(at, at + 65_536));
    })());
    await r.outbox.enqueueMany([{ url: '/web', body: web }, { url: '/node', body: node }]);
    await r.outbox.flush();
    for (const got of r.server.received) expect(same(got.body, data)).toBe(true);
  });

  it('a Request with a large body is read a chunk at a time into the store', async () => {
    const data = bytes(600_000, 9);
    await r.outbox.enqueue(new Request(`${r.server.url}/up`, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } }));
    expect(await blobKeys(r)).toHaveLength(1);
    await r.outbox.flush();
    expect(r.server.received[0]).toMatchObject({ method: 'PUT', path: '/up' });
    expect(same(r.server.received[0]!.body, data)).toBe(true);
  });

  // The store's reads are counted by wrapping a MemoryStore's blobs (on Redis, this file runs without it).
  it.skipIf(process.env.SLUICE_OUTBOX_STORE === 'redis')('streams on send: while the server does not read, the body is not read from the store either', async () => {
    const size = 32 * MiB;
    const data = bytes(size);
    await r.outbox.enqueue({ url: '/big', body: new Blob([data]) });
    // Count the store's reads of the body, a chunk each.
    const storage = await r.store.open('api');
    const blobs = storage.blobs!;
    const read = blobs.read.bind(blobs);
    const reads: number[] = [];
    blobs.read = async (key, start, end) => {
      reads.push(end - start);
      return read(key, start, end);
    };
    // The server takes the headers, then waits before it reads the body: only the sockets' buffers fill meanwhile.
    let readsWhileWaiting = -1;
    r.server.onHeaders = () => new Promise((resolve) => setTimeout(() => resolve((readsWhileWaiting = reads.length)), 300));
    await r.outbox.flush();
    expect(same(r.server.received[0]!.body, data)).toBe(true);
    expect(Math.max(...reads)).toBeLessThanOrEqual(CHUNK);
    expect(reads.length).toBeGreaterThanOrEqual(size / CHUNK);
    expect(readsWhileWaiting).toBeLessThan(size / CHUNK / 2);
  });

  it('a JSON object and a form of 2 MiB: beside the task too (not refused as a queue item), sent whole with their types', async () => {
    const big = { text: 'é'.repeat(MiB) };
    const form = new URLSearchParams({ field: 'x'.repeat(2 * MiB) });
    const [json, params] = await r.outbox.enqueueMany([
      { url: '/json', body: big },
      { url: '/form', body: form },
    ]);
    expect(await blobKeys(r)).toHaveLength(2);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2 });
    expect(r.events('sent').map((e) => e.task.body)).toEqual([expect.any(BodyRef), expect.any(BodyRef)]);
    const [gotJson, gotForm] = r.server.received;
    expect(gotJson).toMatchObject({ key: json });
    expect(gotJson!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(gotJson!.body.toString())).toEqual(big);
    expect(gotForm).toMatchObject({ key: params });
    expect(gotForm!.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(gotForm!.body.toString()).toBe(form.toString());
    expect(await blobKeys(r)).toEqual([]);
  });

  it('a retry, and a same-origin 307 followed, send the whole body again', async () => {
    await r.reopen({ redirect: 'follow-same-origin' });
    const data = bytes(500_000, 2);
    r.server.next({ status: 503 }, { status: 307, headers: { location: '/moved' } });
    await r.outbox.enqueue({ url: '/x', body: new Blob([data]) });
    await r.outbox.flush();
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.server.received.map((x) => x.path)).toEqual(['/x', '/x', '/moved']);
    for (const got of r.server.received) expect(same(got.body, data)).toBe(true);
  });
});

describe('a body that stalls', () => {
  it('a stream that never ends holds its enqueue only until close: ERR_CLOSED, and what it wrote is deleted', async () => {
    const outbox = await r.open();
    let pulls = 0;
    // A first chunk larger than one written at a time, then nothing, ever.
    const stalled = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        if (pulls++ === 0) controller.enqueue(bytes(CHUNK + 10));
        else return new Promise<void>(() => undefined);
      },
    });
    const enqueued = outbox.enqueue({ url: '/upload', body: stalled }).then(() => 'stored', (error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await outbox.close();
    expect(await enqueued).toMatchObject({ code: 'ERR_CLOSED' });
    expect(await blobKeys(r)).toEqual([]);
  });

  // Before, MemoryStore filled the gap with zeros and the enqueue resolved; then the store's ERR_INVALID_OPTION.
  it('a body whose blob is deleted while it is written (a sweep elsewhere): ERR_STORAGE saying so, nothing enqueued', async () => {
    const outbox = await r.open();
    let go!: () => void;
    const gate = new Promise<void>((resolve) => (go = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(bytes(CHUNK + 10));
        await gate;
        controller.enqueue(bytes(CHUNK));
        controller.close();
      },
    });
    const enqueued = outbox.enqueue({ url: '/upload', body }).then(() => 'stored', (error: unknown) => error);
    await vi.waitFor(async () => expect(await blobKeys(r)).toHaveLength(1));
    const queue = await Queue.open({ ...outboxQueue, name: outbox.name, store: r.store, clock: r.clock });
    await queue.blobs!.delete(await queue.blobs!.keys());
    await queue.close();
    go();
    expect(await enqueued).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringMatching(/deleted while it was being stored/) });
    expect(await outbox.size()).toBe(0);
  });
});

describe('budgets', () => {
  it('over maxBodyBytes: ERR_ITEM_TOO_LARGE, and nothing is stored', async () => {
    await r.reopen({ maxBodyBytes: MiB });
    await expect(r.outbox.enqueue({ url: '/x', body: new Blob([bytes(MiB + 1)]) })).rejects.toMatchObject({ code: 'ERR_ITEM_TOO_LARGE' });
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(bytes(CHUNK));
      },
    });
    await expect(r.outbox.enqueue({ url: '/x', body: stream })).rejects.toMatchObject({ code: 'ERR_ITEM_TOO_LARGE' });
    expect(await r.outbox.size()).toBe(0);
    expect(await blobKeys(r)).toEqual([]);
  });

  it('maxBodyBytes holds for bodies kept inside the task too: text, bytes, JSON and forms over it are refused', async () => {
    await r.reopen({ maxBodyBytes: 1000 });
    for (const body of ['x'.repeat(1001), 'é'.repeat(501), bytes(1001), { text: 'x'.repeat(1000) }, new URLSearchParams({ a: 'x'.repeat(1000) })]) {
      await expect(r.outbox.enqueue({ url: '/x', body })).rejects.toMatchObject({ code: 'ERR_ITEM_TOO_LARGE', message: expect.stringMatching(/maxBodyBytes/) });
    }
    expect(await r.outbox.size()).toBe(0);
    await r.outbox.enqueueMany([{ url: '/x', body: 'x'.repeat(1000) }, { url: '/x', body: 'é'.repeat(500) }, { url: '/x', body: bytes(1000) }, { url: '/x', body: { t: 'x'.repeat(980) } }]);
    expect(await r.outbox.size()).toBe(4);
    await r.reopen({ maxBodyBytes: 200 * 1024 });
    await expect(r.outbox.enqueue({ url: '/x', body: { text: 'x'.repeat(200 * 1024) } })).rejects.toMatchObject({ code: 'ERR_ITEM_TOO_LARGE' });
  });

  it('a stream that fails while it is read: the enqueue rejects, and nothing is stored', async () => {
    let n = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (n++ === 3) controller.error(new Error('camera unplugged'));
        else controller.enqueue(bytes(CHUNK));
      },
    });
    await expect(r.outbox.enqueue({ url: '/x', body: stream })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('camera unplugged') });
    expect(await r.outbox.size()).toBe(0);
    expect(await blobKeys(r)).toEqual([]);
  });

  it('limits.maxBytes counts the body: a body over it is refused (ERR_QUOTA_EXCEEDED) and deleted', async () => {
    await r.reopen({ limits: { maxBytes: MiB } });
    await expect(r.outbox.enqueue({ url: '/x', body: new Blob([bytes(2 * MiB)]) })).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
    expect(await blobKeys(r)).toEqual([]);
  });
});

describe('what users see of a stored body', () => {
  it('events, dead letters and onBeforeSend show a BodyRef (size, type); returned as it is, it keeps the body', async () => {
    const data = bytes(100_000);
    const seen: unknown[] = [];
    await r.reopen({ onBeforeSend: (task) => (seen.push(task.body), { ...task, headers: { ...task.headers, 'x-edited': '1' } }) });
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/x', body: new Blob([data], { type: 'application/pdf' }) });
    await r.outbox.flush();
    expect(seen[0]).toBeInstanceOf(BodyRef);
    expect(JSON.parse(JSON.stringify(seen[0]))).toEqual({ size: 100_000, type: 'application/pdf' });
    const [letter] = await r.outbox.dead.list();
    expect(letter!.task.body).toBeInstanceOf(BodyRef);
    // Dead, its body stays: a retry sends it again.
    expect(await blobKeys(r)).toHaveLength(1);
    await r.outbox.dead.retry();
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(r.server.received[1]!.headers['x-edited']).toBe('1');
    expect(same(r.server.received[1]!.body, data)).toBe(true);
    expect(await blobKeys(r)).toEqual([]);
  });

  it("a dead task enqueued again (its body a BodyRef) gets a copy: the copy's send leaves the letter's body", async () => {
    const data = bytes(300_000, 9);
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/a', body: data });
    await r.outbox.flush();
    const [letter] = await r.outbox.dead.list();
    await r.outbox.enqueue({ ...letter!.task, id: undefined, url: '/fixed' });
    expect(await blobKeys(r)).toHaveLength(2);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(await r.outbox.dead.retry([letter!.id])).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
    expect(r.server.received.map((x) => [x.path, same(x.body, data)])).toEqual([
      ['/a', true],
      ['/fixed', true],
      ['/a', true],
    ]);
    expect(await blobKeys(r)).toEqual([]);
    // One whose body is gone (purged) is refused at once, storing nothing.
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/b', body: data });
    await r.outbox.flush();
    const [gone] = await r.outbox.dead.list();
    await r.outbox.dead.purge();
    await expect(r.outbox.enqueue({ url: '/c', body: gone!.task.body })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    expect(await r.outbox.size()).toBe(0);
    expect(await blobKeys(r)).toEqual([]);
  });

  it('a BodyRef whose stored bytes changed is refused at enqueue (ERR_INVALID_TASK), storing nothing', async () => {
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/a', body: bytes(CHUNK + 1000, 2) });
    await r.outbox.flush();
    const [letter] = await r.outbox.dead.list();
    const queue = await Queue.open({ ...outboxQueue, name: r.outbox.name, store: r.store, clock: r.clock });
    try {
      const [key] = await queue.blobs!.keys();
      const all = await queue.blobs!.read(key!, 0, CHUNK + 1000);
      all[CHUNK + 7]! ^= 0x01;
      await queue.blobs!.write(key!, 0, all);
    } finally {
      await queue.close();
    }
    await expect(r.outbox.enqueue({ url: '/b', body: letter!.task.body })).rejects.toMatchObject({
      code: 'ERR_INVALID_TASK',
      message: expect.stringMatching(/fail their checksum/),
    });
    expect(await r.outbox.size()).toBe(0);
    expect(await blobKeys(r)).toHaveLength(1);
  });

  it("onBeforeSend giving a new large body: dead as 'invalid' (a body to store must be enqueued)", async () => {
    await r.reopen({ onBeforeSend: (task) => ({ ...task, body: new Blob([bytes(10)]) }) });
    await r.outbox.enqueue({ url: '/x', body: 'small' });
    await r.outbox.flush();
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'invalid', error: expect.stringContaining('`body`') }]);
  });

  it('dead.purge() and remove() delete the bodies', async () => {
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/a', body: new Blob([bytes(70_000)]), group: 'a' });
    await r.outbox.flush();
    const id = await r.outbox.enqueue({ url: '/b', body: new Blob([bytes(70_000)]), notBefore: r.clock.now() + 60_000, group: 'b' });
    expect(await blobKeys(r)).toHaveLength(2);
    expect(await r.outbox.dead.purge()).toBe(1);
    expect(await blobKeys(r)).toHaveLength(1);
    expect(await r.outbox.remove([id])).toBe(1);
    expect(await blobKeys(r)).toEqual([]);
  });
});

describe('a body whose delete fails (a full quota refuses even deletes in Firefox)', () => {
  it('is deleted with the next ones, not left for a day', async () => {
    const store = new MemoryStore();
    const open = store.open.bind(store);
    let refuse = 0;
    store.open = async (name) => {
      const storage = await open(name);
      const blobs = storage.blobs!;
      const remove = blobs.delete.bind(blobs);
      blobs.delete = (keys) => (refuse > 0 ? (refuse--, Promise.reject(Object.assign(new Error('full'), { name: 'QuotaExceededError' }))) : remove(keys));
      return storage;
    };
    const outbox = await Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url });
    const keys = async () => {
      const queue = await Queue.open({ ...outboxQueue, name: 'api', store, clock: r.clock });
      const found = await queue.blobs!.keys();
      await queue.close();
      return found;
    };
    try {
      const errors: unknown[] = [];
      outbox.addEventListener('error', (e) => errors.push(e.detail.error));
      await outbox.enqueue({ url: '/a', body: new Blob([bytes(70_000)]) });
      refuse = 1;
      expect(await outbox.flush()).toMatchObject({ sent: 1 });
      expect(errors).toEqual([expect.objectContaining({ code: 'ERR_QUOTA_EXCEEDED' })]);
      expect(await keys()).toHaveLength(1);
      await outbox.enqueue({ url: '/b', body: new Blob([bytes(70_000)]) });
      expect(await outbox.flush()).toMatchObject({ sent: 1 });
      expect(await keys()).toEqual([]);
    } finally {
      await outbox.close();
    }
  });
});

describe('a body whose store is gone', () => {
  it('where bodies are kept was deleted (another tab, the site data cleared): dead as invalid, never retried, its group goes on', async () => {
    const store = new MemoryStore();
    const openStorage = store.open.bind(store);
    let gone = false;
    store.open = async (name) => {
      const storage = await openStorage(name);
      const blobs = storage.blobs!;
      const read = blobs.read.bind(blobs);
      blobs.read = (...args) => (gone ? Promise.reject(new SluiceError('ERR_NOT_FOUND', 'The IndexedDB database "api.blobs" was deleted.')) : read(...args));
      return storage;
    };
    const outbox = await Outbox.open({ name: 'api', store, baseUrl: r.server.url });
    try {
      await outbox.enqueueMany([
        { url: '/photo', body: new File([bytes(MiB)], 'photo.jpg'), group: 'g' },
        { url: '/note', body: { a: 1 }, group: 'g' },
      ]);
      gone = true;
      expect(await outbox.flush()).toMatchObject({ sent: 1, dead: 1, retried: 0, remaining: 0 });
      expect(await outbox.dead.list()).toMatchObject([{ reason: 'invalid', error: expect.stringContaining('was deleted') }]);
      expect(r.server.received.map((x) => x.path)).toEqual(['/note']);
    } finally {
      await outbox.close();
    }
  });
});
