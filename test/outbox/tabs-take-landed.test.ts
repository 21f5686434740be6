import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from '../../src/outbox/outbox.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FakeLockManager } from '../support/fake-locks.js';
import { io, pass, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(async () => {
  await r.teardown();
  vi.unstubAllGlobals();
});

/**
 * A MemoryStore the tabs share. Once armed, the next take committed to 'api' lands and then rejects (its reply lost),
 * and the commit after it (the give-back made at once) fails, not stored: a store gone for a moment.
 */
function takeLandsUnseen() {
  const store = new MemoryStore();
  const state = { armed: false, down: 0, log: [] as string[] };
  const open = store.open.bind(store);
  store.open = async (name) => {
    const storage = await open(name);
    const commit = storage.commit.bind(storage);
    storage.commit = async (token, batch) => {
      const text = batch.metaAppend ? new TextDecoder().decode(batch.metaAppend.bytes.subarray(8)) : '';
      // The op codes, but 'n' (how far the queue grew), that the commit appends.
      const ops = text.startsWith('[') ? (JSON.parse(text) as unknown[][]).map((op) => op[0]).filter((op) => op !== 'n').join('') : '';
      if (name !== 'api') return commit(token, batch);
      if (state.down > 0) {
        state.down--;
        if (ops) state.log.push(`${ops} failed`);
        throw new Error('store down');
      }
      if (ops) state.log.push(ops);
      if (state.armed && ops.includes('t')) {
        state.armed = false;
        state.down = 1;
        await commit(token, batch);
        throw new Error('reply lost');
      }
      return commit(token, batch);
    };
    return storage;
  };
  return { store, state };
}

describe('two tabs; a take lands unseen and its give-back fails too', () => {
  const manager = new FakeLockManager();
  const open = (store: MemoryStore) => {
    vi.stubGlobal('navigator', { locks: manager.context() });
    return Outbox.open({ name: 'api', store, clock: r.clock, baseUrl: r.server.url }).then((outbox) => {
      outbox.addEventListener('error', (event) => errors.push((event as CustomEvent<{ error: Error }>).detail.error.message));
      return outbox;
    });
  };
  const errors: string[] = [];
  beforeEach(() => void (errors.length = 0));

  it("tab A's flush rejects and A does no more: tab B delivers the tasks within seconds, not after A's lease", async () => {
    const { store, state } = takeLandsUnseen();
    const a = await open(store);
    const b = await open(store);
    try {
      await a.enqueueMany([{ url: '/1' }, { url: '/2' }, { url: '/3' }]);
      state.armed = true;
      await expect(a.flush()).rejects.toMatchObject({ code: 'ERR_STORAGE' });
      expect(state.log).toEqual(['t', 'u failed']);
      expect((await b.list()).map((p) => p.state)).toEqual(['sending', 'sending', 'sending']);
      // Given back in the background about half a second later.
      await pass(r.clock, 1_000);
      expect(state.log.slice(2)).toEqual(['u']);
      let sent = 0;
      for (let i = 0; i < 10 && sent < 3; i++) {
        sent += (await b.flush()).sent;
        await pass(r.clock, 1_000);
      }
      expect(sent).toBe(3);
      expect(r.server.delivered.map((d) => d.path)).toEqual(['/1', '/2', '/3']);
      // Well within A's lease (30 s of timeout and 60 s more).
      expect(r.clock.monotonic()).toBeLessThan(15_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('both started, one group: its tasks go within seconds, not after the lease', async () => {
    const { store, state } = takeLandsUnseen();
    const a = await open(store);
    const b = await open(store);
    try {
      a.start();
      await io(50);
      b.start();
      state.armed = true;
      await b.enqueueMany([{ url: '/1', group: 'g' }, { url: '/2', group: 'g' }, { url: '/3', group: 'g' }]);
      for (let s = 0; s < 15 && r.server.delivered.length < 3; s++) await pass(r.clock, 1_000);
      expect(state.log.slice(0, 3)).toEqual(['t', 'u failed', 'u']);
      expect(errors).toEqual([expect.stringContaining('reply lost')]);
      expect(r.server.delivered.map((d) => d.path)).toEqual(['/1', '/2', '/3']);
      expect(r.clock.monotonic()).toBeLessThan(15_000);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
