// A unit taken ahead waits behind slow requests: it must not start once its lease could end during its request, or
// another handle takes the task when the lease ends and both send it at once.
import { afterEach, expect, it } from 'vitest';
import { Outbox } from '../../src/index.node.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FakeClock } from '../support/fake-clock.js';

interface Call {
  readonly who: string;
  readonly key: string;
  readonly at: number;
  done?: number;
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A transport whose every response takes `ms` of the fake clock. */
const slow = (who: string, clock: FakeClock, calls: Call[], ms: number): typeof fetch =>
  ((_url: string, init: RequestInit) => {
    const call: Call = { who, key: new Headers(init.headers).get('idempotency-key')!, at: clock.now() };
    calls.push(call);
    return new Promise<Response>((resolve, reject) => {
      init.signal?.addEventListener('abort', () => ((call.done = clock.now()), reject(init.signal!.reason)));
      clock.setTimeout(() => ((call.done = clock.now()), resolve(new Response('ok'))), ms);
    });
  }) as unknown as typeof fetch;

const opened: Outbox[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

for (const ordering of ['none', 'group'] as const) {
  it(`ordering '${ordering}': no task is in flight in two handles at once when requests take nearly timeoutMs`, async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const calls: Call[] = [];
    const common = { name: 'slow', store, clock, baseUrl: 'https://x.test', ordering, concurrency: 1, random: () => 0.5 };
    // Leases are timeoutMs (30 s) plus a minute: A's fourth request would start at 87 s, its lease ending at 90 s.
    const a = await Outbox.open({ ...common, fetch: slow('A', clock, calls, 29_000) });
    const b = await Outbox.open({ ...common, fetch: slow('B', clock, calls, 10) });
    opened.push(a, b);
    const tasks = Array.from({ length: 5 }, (_, i) => ({ url: `/t${i}`, id: `t${i}`, ...(ordering === 'group' && { group: `g${i}` }) }));
    await a.enqueueMany(tasks);
    a.start();
    await turns(20);
    b.start();
    for (let t = 0; t < 200_000; t += 250) {
      clock.advance(250);
      await turns();
    }
    const overlapping = calls.filter((x) => calls.some((y) => y !== x && y.key === x.key && x.at <= y.at && y.at < (x.done ?? Infinity)));
    expect(overlapping.map((c) => `${c.who} ${c.key}`)).toEqual([]);
    // And none is sent again after another handle got its 2xx.
    expect(calls.map((c) => c.key).sort()).toEqual(tasks.map((t) => t.id));
  });
}
