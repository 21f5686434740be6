// What the server receives is the body as it was when enqueue was called, byte for byte, as fetch would send it: not
// what the app's buffer, object or form hold later, and never a stream's leftovers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/fs.js';
import { utf8Length } from '../../src/outbox/utf8-length.js';
import { bytes, same } from './body-bytes.js';
import { rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

const bodyAt = (path: string) => r.server.received.find((x) => x.path === path)!.body;

describe('a body is taken when enqueue is called, as fetch takes it', () => {
  it('bytes, large bytes, an object and a form changed by the app right after the call: sent as they were', async () => {
    const small = bytes(100);
    const large = bytes(100_000);
    const note = { text: 'original' };
    const form = new FormData();
    form.append('a', 'original');
    const enqueued = [
      r.outbox.enqueue({ url: '/small', body: small }),
      r.outbox.enqueue({ url: '/large', body: large }),
      r.outbox.enqueue({ url: '/json', body: note }),
      r.outbox.enqueue({ url: '/form', body: form }),
    ];
    // The app reuses its objects before awaiting.
    small.fill(0);
    large.fill(0);
    note.text = 'changed';
    form.set('a', 'changed');
    await Promise.all(enqueued);
    expect(await r.outbox.flush()).toMatchObject({ sent: 4 });
    expect(same(bodyAt('/small'), bytes(100))).toBe(true);
    expect(same(bodyAt('/large'), bytes(100_000))).toBe(true);
    expect(JSON.parse(bodyAt('/json').toString())).toEqual({ text: 'original' });
    expect(bodyAt('/form').toString()).toContain('\r\n\r\noriginal\r\n');
  });

  it('twenty large bodies enqueued at once: stored and sent, and Node warns of no listener leak', async () => {
    const warnings: string[] = [];
    const warned = (warning: Error) => warnings.push(warning.name);
    process.on('warning', warned);
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => r.outbox.enqueue({ url: `/big${i}`, body: bytes(100_000) })));
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await r.outbox.flush()).toMatchObject({ sent: 20 });
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', warned);
    }
  });

  it('a buffer transferred away while an earlier body of the same enqueueMany is stored: its bytes are sent all the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-body-'));
    try {
      await r.reopen({ store: new FileStore({ dir }), durability: 'strict' });
      const first = bytes(2_000_000);
      const second = bytes(200_000, 7);
      const enqueued = r.outbox.enqueueMany([
        { url: '/first', body: first },
        { url: '/second', body: second },
      ]);
      await new Promise((resolve) => setImmediate(resolve));
      // postMessage(second.buffer, [second.buffer]) to a worker, as an app may once it has handed the bytes over.
      structuredClone(second.buffer, { transfer: [second.buffer] });
      expect(second.byteLength).toBe(0);
      await enqueued;
      expect(await r.outbox.flush()).toMatchObject({ sent: 2 });
      expect(same(bodyAt('/first'), bytes(2_000_000))).toBe(true);
      expect(same(bodyAt('/second'), bytes(200_000, 7))).toBe(true);
    } finally {
      await r.outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bodies as fetch sends them', () => {
  it("another realm's bytes (a vm context's, an iframe's): an ArrayBuffer, small and large, a SharedArrayBuffer, and a stream's chunks, sent as fetch sends them", async () => {
    const made = (code: string) => runInNewContext(code) as ArrayBuffer;
    const small = made('new Uint8Array([1, 2, 3]).buffer');
    const large = made('new Uint8Array(100000).fill(7).buffer');
    const shared = made('const s = new SharedArrayBuffer(4); new Uint8Array(s).set([9, 8, 7, 6]); s');
    async function* chunks() {
      yield made('new Uint8Array([4, 5]).buffer');
    }
    // A tag is not bytes: an object that names itself an ArrayBuffer is JSON; a buffer that names itself otherwise is bytes.
    const named = { [Symbol.toStringTag]: 'ArrayBuffer', n: 1 };
    const frame = Uint8Array.of(6, 7).buffer;
    Object.defineProperty(frame, Symbol.toStringTag, { value: 'Frame' });
    for (const [url, body] of [['/small', small], ['/large', large], ['/shared', shared], ['/stream', chunks()], ['/named', named], ['/frame', frame]] as const) await r.outbox.enqueue({ url, body });
    expect(await r.outbox.flush()).toMatchObject({ sent: 6 });
    expect([...bodyAt('/frame')]).toEqual([6, 7]);
    expect([...bodyAt('/small')]).toEqual([1, 2, 3]);
    expect(same(bodyAt('/large'), new Uint8Array(100_000).fill(7))).toBe(true);
    expect([...bodyAt('/shared')]).toEqual([9, 8, 7, 6]);
    expect([...bodyAt('/stream')]).toEqual([4, 5]);
    expect(bodyAt('/named').toString()).toBe('{"n":1}');
    // Inside a JSON body, as this realm's: refused, not sent as {}.
    await expect(r.outbox.enqueue({ url: '/in-json', body: { data: small } })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('ArrayBuffer at "data" would be sent as an object of numbered bytes, or {}') });
  });

  it("a form's line breaks in names and text values go as CRLF, as the HTML standard and fetch send them", async () => {
    const form = new FormData();
    form.append('comment', 'line1\nline2\rline3\r\nline4');
    form.append('we\nird', 'x');
    await r.outbox.enqueue({ url: '/form', body: form });
    await r.outbox.flush();
    const sent = bodyAt('/form').toString();
    expect(sent).toContain('\r\n\r\nline1\r\nline2\r\nline3\r\nline4\r\n');
    expect(sent).toContain('name="we%0D%0Aird"');
    // And as fetch would send the same form.
    const boundary = /boundary=(.*)$/.exec(r.server.received[0]!.headers['content-type'] as string)![1]!;
    const parsed = await new Response(sent, { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }).formData();
    expect(parsed.get('comment')).toBe('line1\r\nline2\r\nline3\r\nline4');
  });

  it('a web stream read from already, or locked to a reader, is refused (ERR_INVALID_TASK) as fetch refuses it; its rest is never sent', async () => {
    const stream = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('first'));
          controller.enqueue(new TextEncoder().encode('rest'));
          controller.close();
        },
      });
    const read = stream();
    const reader = read.getReader();
    await reader.read();
    reader.releaseLock();
    await expect(r.outbox.enqueue({ url: '/read', body: read })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('read from already') });
    const locked = stream();
    locked.getReader();
    await expect(r.outbox.enqueue({ url: '/locked', body: locked })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    // One locked to an enqueueMany that refuses another task is let go: the app may cancel it.
    const refused = stream();
    await expect(r.outbox.enqueueMany([{ url: '/s', body: refused }, { url: 'ftp://x.test/' }])).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    expect(refused.locked).toBe(false);
    await refused.cancel();
    // One not yet read is taken whole, and locked to the outbox from the call on.
    const fresh = stream();
    const enqueued = r.outbox.enqueue({ url: '/fresh', body: fresh });
    expect(fresh.locked).toBe(true);
    await enqueued;
    await r.outbox.flush();
    expect(r.server.received.map((x) => [x.path, x.body.toString()])).toEqual([['/fresh', 'firstrest']]);
  });

  it('JSON that is no object or array (a Date, a string, null, a number) reaches onBeforeSend as its text: returned as it is, it is sent as it would be alone', async () => {
    const bodies = { date: new Date(0), string: { toJSON: () => 'hello' }, null: { toJSON: () => null }, number: { toJSON: () => 42 } };
    const seen: unknown[] = [];
    await r.reopen({ onBeforeSend: (task) => (seen.push(task.body), task) });
    for (const [name, body] of Object.entries(bodies)) await r.outbox.enqueue({ url: `/${name}`, body });
    expect(await r.outbox.flush()).toMatchObject({ sent: 4, dead: 0 });
    expect(seen).toEqual(['"1970-01-01T00:00:00.000Z"', '"hello"', 'null', '42']);
    for (const [name, body] of Object.entries(bodies)) {
      const got = r.server.received.find((x) => x.path === `/${name}`)!;
      expect(got.body.toString(), name).toBe(JSON.stringify(body));
      expect(got.headers['content-type'], name).toBe('application/json');
    }
    // With batch too: returned as it is, it is the stored JSON still, which a batch carries.
    await r.reopen({ batch: { url: '/batch' }, onBeforeSend: (task) => task });
    await r.outbox.enqueueMany(Object.values(bodies).map((body) => ({ url: '/x', body })));
    expect(await r.outbox.flush()).toMatchObject({ sent: 4, dead: 0 });
    expect(bodyAt('/batch').toString()).toBe(JSON.stringify(Object.values(bodies)));
  });
});

describe('utf8Length', () => {
  it('is the length of the UTF-8 encoding, lone surrogates included (encoded as U+FFFD)', () => {
    const unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit }), fc.string({ unit: fc.constantFrom('a', 'é', '漢', '😀', '\ud800', '\udc00') }));
    fc.assert(fc.property(text, (s) => utf8Length(s) === new TextEncoder().encode(s).length), { numRuns: 5000 });
  });
});
