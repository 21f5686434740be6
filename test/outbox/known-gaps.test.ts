// Outbox behaviour the field-notes demo (demo/app/) had to work around, pinned as known bugs: each test states what
// should happen and fails while the bug is there (`it.fails`); once fixed, it fails the run, to be unmarked, and the
// demo's workaround can go.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Outbox } from '../../src/outbox/outbox.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FaultServer } from './fault-server.js';

let server: FaultServer;
const opened: Outbox[] = [];
const open = async (store: MemoryStore, extra: Partial<Parameters<typeof Outbox.open>[0]> = {}) => {
  const outbox = await Outbox.open({ name: 'gaps', store, baseUrl: server.url, ...extra });
  opened.push(outbox);
  return outbox;
};

beforeEach(async () => {
  server = await FaultServer.start();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((outbox) => outbox.close()));
  await server.close();
});

// A handle reads what other handles stored after the last task it knows of; when its own enqueue is numbered after
// another handle's that it had not read yet, that task is never read: stored, but neither sent nor listed by this
// handle until it is opened again. (demo/app/lost-tasks.ts reopens the outbox when size() and list() disagree.)
it('a delivering handle sends every task another handle stores while it stores its own', async () => {
  const store = new MemoryStore();
  const [delivering, other] = [await open(store), await open(store)];
  await Promise.all(Array.from({ length: 100 }, (_, n) => (n % 2 ? delivering : other).enqueue({ url: `/n/${n}` })));
  for (let i = 0; i < 5 && (await delivering.size()) > 0; i++) await delivering.flush();
  expect((await delivering.list()).length).toBe(await delivering.size());
  expect(server.delivered).toHaveLength(100);
});

// With group ordering, a group's next tasks are taken together (a chain), and every task taken counts an attempt,
// sent or not: a task behind a failing one accrues attempts it never made, and `retry.maxAttempts` sends it to the
// dead letters after one request of its own. (The demo sets no maxAttempts.)
it.fails('retry.maxAttempts counts the requests a task made, not the times its group was taken (known bug)', async () => {
  server.script(() => ({ status: 503 }));
  const outbox = await open(new MemoryStore(), { retry: { initialDelayMs: 0, maxDelayMs: 0, maxAttempts: 3 } });
  await outbox.enqueueMany(['/a', '/b', '/c'].map((url) => ({ url, group: 'one' })));
  for (let i = 0; i < 20 && (await outbox.size()) > 0; i++) await outbox.flush();
  const requests = (path: string) => server.received.filter((r) => r.path === path).length;
  expect([requests('/a'), requests('/b'), requests('/c')]).toEqual([3, 3, 3]);
});
