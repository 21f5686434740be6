import { afterEach, expect, it } from 'vitest';
import { Outbox } from '../../src/index.node.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

const opened: Outbox[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

/** Real timers and a monotonic reading; the wall clock steps when told (as a VM resumed, or NTP, sets it). */
const steppingClock = () => {
  const clock = {
    offset: 0,
    now: () => Date.now() + clock.offset,
    monotonic: () => performance.now(),
    setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
    clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
  return clock;
};

// Before, A's 400 put the task B had sent into the dead letters too (its ack of a task acked already passed), and
// `dead.retry()` sent it a third time.
it("a task another handle sent while this one's request outlasted its lease is not buried when that request then fails for good", async () => {
  const store = new MemoryStore();
  const clock = steppingClock();
  let answerA!: (response: Response) => void;
  let requestA!: () => void;
  const sentA = new Promise<void>((resolve) => (requestA = resolve));
  const fetchA = () => {
    requestA();
    return new Promise<Response>((resolve) => (answerA = resolve));
  };
  const a = await Outbox.open({ name: 'o', store, clock, baseUrl: 'https://x.test', fetch: fetchA });
  const requestsB: string[] = [];
  const b = await Outbox.open({ name: 'o', store, clock, baseUrl: 'https://x.test', fetch: async (input) => (requestsB.push(String(input)), new Response('ok')) });
  opened.push(a, b);
  const dead: unknown[] = [];
  a.addEventListener('dead', (e) => dead.push(e.detail));
  await a.enqueue({ url: '/x', method: 'POST', body: { n: 1 } });
  const flushA = a.flush();
  await sentA;
  // A's lease (timeoutMs + 60 s after its request began, a wall time) is over: B takes the task and sends it.
  clock.offset = 3_600_000;
  expect(await b.flush()).toMatchObject({ sent: 1, dead: 0 });
  answerA(new Response('bad request', { status: 400 }));
  expect(await flushA).toMatchObject({ dead: 0 });
  expect(dead).toEqual([]);
  expect(await a.dead.list()).toEqual([]);
  expect(await b.dead.retry()).toBe(0);
  expect(await b.flush()).toMatchObject({ sent: 0 });
  expect(requestsB).toEqual(['https://x.test/x']);
});
