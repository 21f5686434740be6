// Two tabs of one origin, in Node: IndexedDbStore over one fake-indexeddb factory, and one Web Locks manager with a
// context per tab (test/support/fake-locks.ts), which `kill()` ends the way a closed or crashed tab ends.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { IndexedDbStore } from '../../src/indexeddb.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { FakeLockManager, type FakeLocks } from '../support/fake-locks.js';
import { FaultServer } from './fault-server.js';

let server: FaultServer;
const open: Outbox[] = [];

beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((outbox) => outbox.close()));
  await server.close();
  vi.unstubAllGlobals();
});

/** Opens and starts the outbox in a tab whose Web Locks are `locks` (read by the store and the outbox as they open). */
async function tab(factory: IDBFactory, locks: FakeLocks): Promise<Outbox> {
  vi.stubGlobal('navigator', { locks });
  const outbox = await Outbox.open({ name: 'late', store: new IndexedDbStore({ indexedDB: factory }), baseUrl: server.url });
  outbox.start();
  return outbox;
}

// The tab that opens reads the task leased (for timeoutMs + 60 s) by a tab whose request is in flight. When that tab
// goes, the delivery lock passes to the new one, which looks again at once at what the other held; the store sees by
// the gone tab's owner lock that it holds nothing any more, and the task is taken and sent again, with its key.
it('a tab that opens while another has a task in flight sends it soon after that tab closes', async () => {
  const [factory, locks] = [new IDBFactory(), new FakeLockManager()];
  const [a, b] = [locks.context(), locks.context()];
  server.next({ hang: true });
  const first = await tab(factory, a);
  const id = await first.enqueue({ url: '/late', body: { n: 2 } });
  await server.waitFor(1);
  const second = await tab(factory, b);
  open.push(second);
  expect(await second.list()).toMatchObject([{ id, state: 'sending' }]);
  // The first tab closes mid-request: its locks go, its request is never answered and never acked.
  a.kill();
  const closedAt = Date.now();
  await server.waitFor(2);
  // Well before the 5 s after which a lease is looked at again anyway: the lock passing on is what frees it.
  expect(Date.now() - closedAt).toBeLessThan(4_000);
  for (let i = 0; i < 100 && (await second.size()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await second.size()).toBe(0);
  expect(server.received.map((r) => [r.path, r.key, r.body.toString()])).toEqual([
    ['/late', id, '{"n":2}'],
    ['/late', id, '{"n":2}'],
  ]);
}, 20_000);
