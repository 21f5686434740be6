import type { Store } from '../../src/core/store.js';
import { placeEachTest, type StoreHarness, type TestApi } from './harness.js';

const bytes = (...values: number[]) => new Uint8Array(values);

/** The raw Store contract, which every store must keep for the Queue to be correct on it. */
export function storageConformance(t: TestApi, label: string, harness: StoreHarness): void {
  const { describe, it, expect } = t;

  describe(`Store contract: ${label}`, () => {
    const here = placeEachTest(t, harness);
    const open = (name?: string, from?: Store) => here.open(name, from);

    it('.open() of a new queue holds nothing', async () => {
      const s = await open();
      const snap = await s.load();
      expect(snap.meta).toBeUndefined();
      expect(snap.segments).toEqual([]);
      expect(typeof snap.token).toBe('string');
      expect(await s.token()).toBe(snap.token);
    });

    it('.exists(), where the store has it, tells a name opened from one never opened, and makes nothing', async () => {
      const { store } = here;
      if (!store.exists) return;
      expect(await store.exists('never')).toBe(false);
      expect(await store.exists('never')).toBe(false);
      await open('opened');
      expect(await store.exists('opened')).toBe(true);
    });

    it('.commit() writes segments and meta and returns a new token', async () => {
      const s = await open();
      const { token } = await s.load();
      const next = await s.commit(token, { write: { segment: 5, offset: 0, bytes: bytes(1, 2, 3) }, meta: bytes(9), durability: 'relaxed' });
      expect(next).toBeTypeOf('string');
      expect(next).not.toBe(token);
      expect(await s.token()).toBe(next);
      const snap = await s.load();
      expect(snap.token).toBe(next);
      expect([...snap.meta!]).toEqual([9]);
      expect(snap.segments).toEqual([{ id: 5, length: 3 }]);
      expect([...(await s.read(5, 0, 3))]).toEqual([1, 2, 3]);
      expect([...(await s.read(5, 1, 10))]).toEqual([2, 3]);
      expect((await s.read(6, 0, 10)).length).toBe(0);
    });

    it('.commit() with a stale token writes nothing and resolves undefined', async () => {
      const s = await open();
      const { token } = await s.load();
      const next = await s.commit(token, { meta: bytes(1), durability: 'relaxed' });
      expect(await s.commit(token, { meta: bytes(2), write: { segment: 0, offset: 0, bytes: bytes(7) }, durability: 'relaxed' })).toBeUndefined();
      const snap = await s.load();
      expect(snap.token).toBe(next);
      expect([...snap.meta!]).toEqual([1]);
      expect(snap.segments).toEqual([]);
    });

    it('.commit() appends at the end and cuts what lies past an earlier offset', async () => {
      const s = await open();
      let token = (await s.load()).token;
      token = (await s.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1, 2, 3) }, durability: 'strict' }))!;
      token = (await s.commit(token, { write: { segment: 0, offset: 3, bytes: bytes(4, 5) }, durability: 'strict' }))!;
      expect([...(await s.read(0, 0, 100))]).toEqual([1, 2, 3, 4, 5]);
      token = (await s.commit(token, { write: { segment: 0, offset: 2, bytes: bytes(9) }, durability: 'relaxed' }))!;
      expect([...(await s.read(0, 0, 100))]).toEqual([1, 2, 9]);
      await s.commit(token, { write: { segment: 0, offset: 1, bytes: bytes() }, durability: 'relaxed' });
      expect((await s.load()).segments).toEqual([{ id: 0, length: 1 }]);
    });

    it('.commit() appends to the metadata, cuts what lies past an earlier offset, and a whole write replaces it', async () => {
      const s = await open();
      let token = (await s.load()).token;
      token = (await s.commit(token, { meta: bytes(1, 2), durability: 'strict' }))!;
      token = (await s.commit(token, { metaAppend: { offset: 2, bytes: bytes(3, 4) }, durability: 'strict' }))!;
      token = (await s.commit(token, { metaAppend: { offset: 4, bytes: bytes(5) }, durability: 'relaxed' }))!;
      expect([...(await s.load()).meta!]).toEqual([1, 2, 3, 4, 5]);
      token = (await s.commit(token, { metaAppend: { offset: 3, bytes: bytes(9) }, durability: 'relaxed' }))!;
      expect([...(await s.load()).meta!]).toEqual([1, 2, 3, 9]);
      token = (await s.commit(token, { metaAppend: { offset: 2, bytes: bytes() }, write: { segment: 0, offset: 0, bytes: bytes(7) }, durability: 'relaxed' }))!;
      expect([...(await s.load()).meta!]).toEqual([1, 2]);
      token = (await s.commit(token, { metaAppend: { offset: 2, bytes: bytes(6) }, durability: 'relaxed' }))!;
      token = (await s.commit(token, { meta: bytes(8), durability: 'relaxed' }))!;
      expect([...(await s.load()).meta!]).toEqual([8]);
      token = (await s.commit(token, { metaAppend: { offset: 1, bytes: bytes(4) }, durability: 'relaxed' }))!;
      const again = await open('q', await here.place.open());
      expect([...(await again.load()).meta!]).toEqual([8, 4]);
      expect((await again.load()).segments).toEqual([{ id: 0, length: 1 }]);
      expect(await s.commit(token.replace(/./, 'x') + 'stale', { metaAppend: { offset: 2, bytes: bytes(1) }, durability: 'relaxed' })).toBeUndefined();
      expect([...(await s.load()).meta!]).toEqual([8, 4]);
    });

    it('.load() lists segments in ascending id order', async () => {
      const s = await open();
      let token = (await s.load()).token;
      for (const id of [1000, 20, 3]) token = (await s.commit(token, { write: { segment: id, offset: 0, bytes: bytes(id % 256) }, durability: 'relaxed' }))!;
      expect((await s.load()).segments.map((x) => x.id)).toEqual([3, 20, 1000]);
    });

    it('.commit() removes and quarantines segments', async () => {
      const s = await open();
      let token = (await s.load()).token;
      for (const id of [0, 10, 20]) token = (await s.commit(token, { write: { segment: id, offset: 0, bytes: bytes(1) }, durability: 'relaxed' }))!;
      token = (await s.commit(token, { remove: [0], quarantine: [10], meta: bytes(4), durability: 'strict' }))!;
      const snap = await s.load();
      expect(snap.segments).toEqual([{ id: 20, length: 1 }]);
      expect((await s.read(0, 0, 10)).length).toBe(0);
      expect((await s.read(10, 0, 10)).length).toBe(0);
    });

    it('.commit() of no bytes at offset 0 makes an empty segment, listed, and appended to later (a drained queue\'s floor)', async () => {
      const s = await open();
      let token = (await s.load()).token;
      token = (await s.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1, 2) }, durability: 'relaxed' }))!;
      // As an ack that drains the queue commits it: the last segment removed, an empty one made at the next number.
      token = (await s.commit(token, { remove: [0], write: { segment: 2, offset: 0, bytes: bytes() }, durability: 'strict' }))!;
      expect((await s.load()).segments).toEqual([{ id: 2, length: 0 }]);
      expect((await s.read(2, 0, 10)).length).toBe(0);
      token = (await s.commit(token, { write: { segment: 2, offset: 0, bytes: bytes(7, 8) }, durability: 'relaxed' }))!;
      expect((await s.load()).segments).toEqual([{ id: 2, length: 2 }]);
      expect([...(await s.read(2, 0, 10))]).toEqual([7, 8]);
    });

    it('.commit() stores a copy: later changes to the caller\'s buffers do not reach the store', async () => {
      const s = await open();
      const data = bytes(1, 2);
      const meta = bytes(3);
      await s.commit((await s.load()).token, { write: { segment: 0, offset: 0, bytes: data }, meta, durability: 'relaxed' });
      data[0] = 99;
      meta[0] = 99;
      expect([...(await s.read(0, 0, 2))]).toEqual([1, 2]);
      expect([...(await s.load()).meta!]).toEqual([3]);
    });

    it('queues of one store are independent', async () => {
      const a = await open('a');
      const b = await open('b');
      await a.commit((await a.load()).token, { write: { segment: 0, offset: 0, bytes: bytes(1) }, meta: bytes(1), durability: 'relaxed' });
      const snap = await b.load();
      expect(snap.segments).toEqual([]);
      expect(snap.meta).toBeUndefined();
    });

    it('a second handle sees commits, and only one of two racing commits wins', async () => {
      const a = await open();
      const b = await open('q', await here.place.open());
      const token = (await a.load()).token;
      expect((await b.load()).token).toBe(token);
      const results = await Promise.all([
        a.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(1) }, durability: 'relaxed' }),
        b.commit(token, { write: { segment: 0, offset: 0, bytes: bytes(2) }, durability: 'relaxed' }),
      ]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      const winner = results[0] !== undefined ? 1 : 2;
      expect([...(await b.read(0, 0, 10))]).toEqual([winner]);
      expect(await a.token()).toBe(await b.token());
    });

    it('what was committed is there for a new Store instance over the same place', async () => {
      const s = await open();
      await s.commit((await s.load()).token, { write: { segment: 7, offset: 0, bytes: bytes(1, 2) }, meta: bytes(5), durability: 'strict' });
      await s.close();
      here.opened = [];
      const again = await open('q', await here.place.open());
      const snap = await again.load();
      expect(snap.segments).toEqual([{ id: 7, length: 2 }]);
      expect([...snap.meta!]).toEqual([5]);
    });
  });
}
