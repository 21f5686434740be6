import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { ORPHAN_GRACE_MS } from '../../src/outbox/body-store.js';
import { blobKeys, bytes, MiB, same } from './body-bytes.js';
import { rig, type Rig } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe('recovery: no orphan forever, never a task without its body', () => {
  it('a body whose task never committed (a crash between) is deleted by an open once it is old enough', async () => {
    const queue = await Queue.open({ ...outboxQueue, name: 'api', store: r.store, clock: r.clock });
    const key = `${r.clock.now().toString(36)}-0000000000000000-crashed`;
    await queue.blobs!.write(key, 0, bytes(1000));
    await queue.close();
    await r.reopen();
    expect(await blobKeys(r)).toEqual([key]);
    r.clock.advance(ORPHAN_GRACE_MS + 1);
    await r.reopen();
    expect(await blobKeys(r)).toEqual([]);
  });

  it('a body whose task was removed (a crash before the body) is deleted; bodies pending and dead tasks name stay', async () => {
    r.server.plan('dead', [{ status: 400 }]);
    await r.outbox.enqueueMany([
      { url: '/d', id: 'dead', body: new Blob([bytes(70_000)]), group: 'd' },
      { url: '/p', id: 'pending', body: new Blob([bytes(70_000)]), group: 'p', notBefore: r.clock.now() + 10 * ORPHAN_GRACE_MS },
      { url: '/g', id: 'gone', body: new Blob([bytes(70_000)]), group: 'g', notBefore: r.clock.now() + 10 * ORPHAN_GRACE_MS },
    ]);
    await r.outbox.flush();
    // The crash: 'gone' is removed from the queue, and the process dies before deleting its body.
    const queue = await Queue.open<{ id: string }>({ ...outboxQueue, name: 'api', store: r.store, clock: r.clock });
    const entry = (await queue.list()).find((e) => e.value.id === 'gone')!;
    await queue.remove([entry.id]);
    await queue.close();
    expect(await blobKeys(r)).toHaveLength(3);
    r.clock.advance(ORPHAN_GRACE_MS + 1);
    await r.reopen();
    expect(await blobKeys(r)).toHaveLength(2);
    expect((await r.outbox.list()).map((t) => t.id)).toEqual(['pending']);
    await r.outbox.dead.retry();
    r.clock.advance(10 * ORPHAN_GRACE_MS);
    const sent = await r.outbox.flush();
    expect(sent).toMatchObject({ sent: 2, remaining: 0 });
    expect(r.server.delivered.map((x) => [x.key, x.body.length])).toEqual([
      ['pending', 70_000],
      ['dead', 70_000],
    ]);
  });

});

describe('where a body lives, by store and platform', () => {
  it('a body still being stored hours after it began (a slow stream) is not deleted by another handle opening meanwhile', async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        pulls++;
        if (pulls === 1) return controller.enqueue(bytes(300_000));
        if (pulls > 2) return controller.close();
        // Three hours on, a second handle opens the outbox (and sweeps bodies no task names) while this one streams.
        r.clock.advance(3 * 3600_000);
        const other = await Outbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url });
        await other.close();
        controller.enqueue(bytes(1_000));
      },
    });
    await r.outbox.enqueue({ url: '/slow', id: 'slow', body });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
    expect(r.server.delivered.map((x) => [x.key, x.body.length])).toEqual([['slow', 301_000]]);
  });

  it("without blobs in the store, a body up to 512 KiB stays inside its task; a larger one is refused", async () => {
    const { MemoryStore } = await import('../../src/stores/memory/memory-store.js');
    const inner = new MemoryStore();
    const store = { open: async (name: string) => Object.assign(await inner.open(name), { blobs: undefined }) };
    await r.reopen({ store });
    await r.outbox.enqueue({ url: '/x', body: new Blob([bytes(200_000)]) });
    await expect(r.outbox.enqueue({ url: '/y', body: new Blob([bytes(600_000)]) })).rejects.toMatchObject({ code: 'ERR_ITEM_TOO_LARGE' });
    await r.outbox.flush();
    expect(same(r.server.received[0]!.body, bytes(200_000))).toBe(true);
  });

  it('in a FileStore, a body is a side file in <queue>/blobs/, deleted once its task is sent', async () => {
    const { mkdtempSync, readdirSync, rmSync, statSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { FileStore } = await import('../../src/fs.js');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bodies-'));
    try {
      await r.reopen({ store: new FileStore({ dir }), durability: 'strict' });
      const id = await r.outbox.enqueue({ url: '/x', id: 'photo/1', body: new Blob([bytes(MiB)]) });
      const files = readdirSync(join(dir, 'api', 'blobs'));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/-photo_1$/);
      // Private, as the store's other files (its `mode`, 0o600 by default): a photo is personal data.
      expect(statSync(join(dir, 'api', 'blobs', files[0]!)).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'api', 'blobs')).mode & 0o777).toBe(0o700);
      await r.outbox.flush();
      expect(r.server.received[0]).toMatchObject({ key: id });
      expect(same(r.server.received[0]!.body, bytes(MiB))).toBe(true);
      expect(readdirSync(join(dir, 'api', 'blobs'))).toEqual([]);
    } finally {
      await r.outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['streamed (Node)', false],
    ['as a Blob (browsers)', true],
  ] as const)('a stored body whose bytes changed (a flipped bit) is never sent whole, %s: dead as invalid, saying so', async (_, asBlob) => {
    const { Outbox: CoreOutbox } = await import('../../src/outbox/outbox.js');
    const data = bytes(600 * 1024, 5);
    const outbox = asBlob ? await CoreOutbox.open({ name: 'api', store: r.store, clock: r.clock, baseUrl: r.server.url }) : r.outbox;
    try {
      const id = await outbox.enqueue({ url: '/photo', body: new Blob([data]) });
      const queue = await Queue.open({ ...outboxQueue, name: 'api', store: r.store, clock: r.clock });
      try {
        const [key] = await queue.blobs!.keys();
        // Written back whole, one bit flipped (a blob write starts at 0 or appends).
        const all = await queue.blobs!.read(key!, 0, data.length);
        all[300 * 1024 + 3]! ^= 0x10;
        await queue.blobs!.write(key!, 0, all);
      } finally {
        await queue.close();
      }
      expect(await outbox.flush()).toMatchObject({ sent: 0, dead: 1 });
      expect(r.server.delivered).toEqual([]);
      expect(r.server.received.filter((got) => got.body.length === data.length)).toEqual([]);
      expect(await outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'invalid', error: expect.stringMatching(/fails its checksum/) }]);
    } finally {
      if (asBlob) await outbox.close();
    }
  });

  it.each([
    ['streamed (Node): the gap is met mid-request', '../../src/index.node.js'],
    ['as a Blob (browsers)', '../../src/outbox/outbox.js'],
  ] as const)('a stored body whose middle is gone (its last byte there) is never sent whole, %s: dead as invalid, not retried', async (_, entry) => {
    const { Outbox } = (await import(entry)) as typeof import('../../src/outbox/outbox.js');
    const { MemoryStore } = await import('../../src/stores/memory/memory-store.js');
    const { MemoryBlobs } = await import('../../src/stores/memory/memory-blobs.js');
    const outbox = await Outbox.open({ name: 'gap', store: new MemoryStore(), clock: r.clock, baseUrl: r.server.url });
    const original = MemoryBlobs.prototype.read;
    const read = vi.spyOn(MemoryBlobs.prototype, 'read');
    try {
      const id = await outbox.enqueue({ url: '/photo', body: bytes(600 * 1024, 3) });
      // The store reads nothing from 256 KiB on, as if those bytes were lost; the open's look at the end still passes.
      read.mockImplementation(function (this: InstanceType<typeof MemoryBlobs>, key, start, end) {
        return start === 256 * 1024 ? Promise.resolve(new Uint8Array(0)) : original.call(this, key, start, end);
      });
      expect(await outbox.flush()).toMatchObject({ sent: 0, retried: 0, dead: 1 });
      expect(outbox.online).toBe(true);
      expect(await outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'invalid', error: expect.stringMatching(/no longer all in the store/) }]);
    } finally {
      read.mockRestore();
      await outbox.close();
    }
  });

  it('where fetch cannot stream request bodies (browsers), a stored body is sent as a Blob made a chunk at a time', async () => {
    const { Outbox } = await import('../../src/outbox/outbox.js');
    const { MemoryStore } = await import('../../src/stores/memory/memory-store.js');
    const outbox = await Outbox.open({ name: 'blobs', store: new MemoryStore(), baseUrl: r.server.url });
    try {
      const data = bytes(MiB + 17, 4);
      await outbox.enqueue({ url: '/x', body: new Blob([data], { type: 'video/mp4' }) });
      expect(await outbox.flush()).toMatchObject({ sent: 1 });
      const [got] = r.server.received;
      expect(got!.headers['content-type']).toBe('video/mp4');
      expect(same(got!.body, data)).toBe(true);
    } finally {
      await outbox.close();
    }
  });
});
