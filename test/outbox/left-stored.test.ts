import { expect, it } from 'vitest';
import { MemoryStore, Outbox, type Store } from '../../src/index.js';
import { hash } from '../../src/core/partitioned.js';

/** Commits to storage `name` fail as `plan` says, once armed: 'ok' lets one through, 'full' / 'fail' refuse it. */
function scripted(): { store: Store; arm: (name: string, plan: ('ok' | 'full' | 'fail')[]) => void } {
  const inner = new MemoryStore();
  const plans = new Map<string, ('ok' | 'full' | 'fail')[]>();
  const store: Store = {
    async open(name) {
      const s = await inner.open(name);
      return Object.assign(Object.create(s), {
        load: () => s.load(),
        read: (seg: number, a: number, b: number) => s.read(seg, a, b),
        token: () => s.token(),
        close: () => s.close(),
        ...(s.watch && { watch: (l: () => void) => s.watch!(l) }),
        commit: (t: string, b: never) => {
          const next = plans.get(name)?.shift() ?? 'ok';
          if (next === 'full') return Promise.reject(new DOMException('full', 'QuotaExceededError'));
          if (next === 'fail') return Promise.reject(new DOMException('refused', 'QuotaExceededError'));
          return s.commit(t, b);
        },
      });
    },
  };
  return { store, arm: (name, plan) => plans.set(name, plan) };
}

it("a partitioned enqueueMany whose shares left stored are taken out after all rejects with the store's own refusal, and sends nothing", async () => {
  // It said ERR_STORAGE "they will be sent", while the outbox then took them out: an app that believed it never
  // enqueued them again, and their bodies waited a day.
  const { store, arm } = scripted();
  const sent: string[] = [];
  const outbox = await Outbox.open({ name: 'api', store, partitions: 2, ordering: 'group', baseUrl: 'https://example.test', fetch: async (input) => (sent.push(String(input)), new Response('ok')) });
  const groups = ['a', 'b', 'c', 'd', 'e', 'f'];
  const g0 = groups.find((g) => hash(g) % 2 === 0)!;
  const g1 = groups.find((g) => hash(g) % 2 === 1)!;
  // Partition 0's share is stored; partition 1's is refused (full); the removal of partition 0's share is refused
  // too, and the store has room again by the time the outbox tries once more.
  arm('api', ['ok', 'fail', 'ok', 'ok', 'ok', 'ok']);
  arm('api.p1', ['full']);
  const error = await outbox.enqueueMany([{ url: '/first', id: 'first', group: g0 }, { url: '/second', id: 'second', group: g1 }]).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' });
  expect(await outbox.list()).toEqual([]);
  await outbox.flush();
  expect(sent).toEqual([]);
  await outbox.close();
});
