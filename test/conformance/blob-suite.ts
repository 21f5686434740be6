import type { BlobStorage, Store } from '../../src/core/store.js';
import { placeEachTest, type StoreHarness, type TestApi } from './harness.js';

const bytes = (length: number, seed = 0) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);

/** Byte for byte (expect's deep equality takes seconds on a megabyte). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The `blobs` part of the Store contract (an outbox's large bodies live there), which every store of sluice keeps. */
export function blobConformance(t: TestApi, label: string, harness: StoreHarness): void {
  const { describe, it, expect } = t;

  describe(`Store contract, blobs: ${label}`, () => {
    const here = placeEachTest(t, harness);
    const open = async (name = 'q', from?: Store): Promise<BlobStorage> => {
      const s = await here.open(name, from);
      expect(s.blobs, 'the store keeps blobs').toBeDefined();
      return s.blobs!;
    };

    it('.write() at 0 then appends; .read() gives any range, shorter at the end, empty when absent', async () => {
      const b = await open();
      await b.write('photo-1', 0, bytes(10), 'relaxed');
      await b.write('photo-1', 10, bytes(5, 7), 'relaxed');
      const all = [...bytes(10), ...bytes(5, 7)];
      expect([...(await b.read('photo-1', 0, 15))]).toEqual(all);
      expect([...(await b.read('photo-1', 8, 12))]).toEqual(all.slice(8, 12));
      expect([...(await b.read('photo-1', 12, 100))]).toEqual(all.slice(12));
      expect((await b.read('photo-1', 15, 20)).length).toBe(0);
      expect((await b.read('absent', 0, 10)).length).toBe(0);
    });

    it('.write() at 0 starts a blob afresh', async () => {
      const b = await open();
      await b.write('k', 0, bytes(100), 'relaxed');
      await b.write('k', 0, bytes(3, 9), 'strict');
      expect([...(await b.read('k', 0, 100))]).toEqual([...bytes(3, 9)]);
    });

    // Before, IndexedDbStore resolved such a write and no read reached its bytes; MemoryStore filled the gap with zeros.
    it('.write() past the end of a blob (or of none) rejects ERR_INVALID_OPTION, changing nothing', async () => {
      const b = await open();
      await b.write('k', 0, bytes(3), 'relaxed');
      await expect(b.write('k', 10, bytes(1, 9), 'relaxed')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('(3, an append)') });
      await expect(b.write('absent', 4, bytes(1), 'relaxed')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      await b.write('k', 3, bytes(2, 5), 'relaxed');
      expect([...(await b.read('k', 0, 100))]).toEqual([...bytes(3), ...bytes(2, 5)]);
      expect(await b.keys()).toEqual(['k']);
    });

    it('a large blob written in pieces reads back byte for byte, across the pieces', async () => {
      const b = await open();
      const piece = 256 * 1024;
      const whole = bytes(4 * piece + 123, 3);
      for (let at = 0; at < whole.length; at += piece) await b.write('big', at, whole.subarray(at, at + piece), 'relaxed');
      expect(same(await b.read('big', 0, whole.length), whole)).toBe(true);
      expect(same(await b.read('big', piece - 10, 2 * piece + 10), whole.subarray(piece - 10, 2 * piece + 10))).toBe(true);
    });

    it('.keys() lists the blobs, .delete() removes them whole and skips unknown keys', async () => {
      const b = await open();
      for (const key of ['a', 'b.1', 'c_2-x']) await b.write(key, 0, bytes(3), 'relaxed');
      expect((await b.keys()).sort()).toEqual(['a', 'b.1', 'c_2-x']);
      await b.delete(['b.1', 'nope']);
      expect((await b.keys()).sort()).toEqual(['a', 'c_2-x']);
      expect((await b.read('b.1', 0, 3)).length).toBe(0);
      await b.delete([]);
      await b.delete(['a', 'c_2-x']);
      expect(await b.keys()).toEqual([]);
    });

    it('a blob deleted between two of its pieces leaves no bytes that .keys() does not list', async () => {
      // A sweep collects a blob whose writer stalled; the writer then appends its next piece.
      const b = await open();
      await b.write('stalled', 0, bytes(10), 'relaxed');
      await b.delete(['stalled']);
      // Refused (the blob is gone), or stored and listed, so that the next sweep collects it again.
      await b.write('stalled', 10, bytes(5), 'relaxed').catch(() => undefined);
      if ((await b.read('stalled', 0, 100)).length > 0) expect(await b.keys()).toContain('stalled');
      await b.delete(await b.keys());
      expect((await b.read('stalled', 0, 100)).length).toBe(0);
    });

    it("a queue's blobs are its own: another queue of the store neither sees nor deletes them", async () => {
      const q = await open('q');
      const r = await open('r');
      await q.write('same', 0, bytes(4), 'relaxed');
      await r.write('same', 0, bytes(2, 5), 'relaxed');
      await r.delete(['same']);
      expect([...(await q.read('same', 0, 4))]).toEqual([...bytes(4)]);
      expect(await q.keys()).toEqual(['same']);
      expect(await r.keys()).toEqual([]);
    });

    it('blobs are not segments: the queue storage lists none of them', async () => {
      const s = await here.store.open('q');
      here.opened.push(s);
      await s.blobs!.write('k', 0, bytes(64), 'relaxed');
      expect((await s.load()).segments).toEqual([]);
    });

    it('another handle, or a new store over the same place, reads what was written', async () => {
      const a = await open();
      await a.write('shared', 0, bytes(20), 'strict');
      const b = await open('q', await here.place.open());
      expect([...(await b.read('shared', 0, 20))]).toEqual([...bytes(20)]);
      expect(await b.keys()).toEqual(['shared']);
    });
  });
}
