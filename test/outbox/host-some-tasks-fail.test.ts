import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';
import type { OutboxOptions } from '../../src/outbox/options.js';
import { FakeClock } from '../support/fake-clock.js';
import { pass } from './helpers.js';

afterEach(() => vi.unstubAllGlobals());

/**
 * One host, two kinds of tasks: some it never takes (`bad`: a CORS refusal, an `X-Tenant` header its preflight does not
 * allow; or a request it never answers in time, a huge upload), the rest it takes at once. A failure of the first kind
 * held the whole host, and at each end of the hold the task tried was again one that fails: the rest never went.
 */
type Kind = 'cors' | 'timeout' | 'network';
/** Requests in 300 s to a host that fails every one of 20 tasks, as counted before the change (no more now). */
const DOWN = { cors: 127, timeout: 92, network: 65 };
const RETRY = { initialDelayMs: 1000, maxDelayMs: 5000, factor: 2 };

async function host(kind: Kind, ordering: 'none' | 'group', { bad = 8, plain = 60, every = 5000, allBad = false } = {}) {
  if (kind === 'cors') vi.stubGlobal('location', { origin: 'http://app.test' });
  const clock = new FakeClock();
  const start = clock.now();
  const tries = new Map<string, number[]>();
  let requests = 0;
  const fetch: NonNullable<OutboxOptions['fetch']> = (_url, init = {}) => {
    if (init.mode === 'no-cors') return Promise.resolve(new Response(null, { status: 405 }));
    requests++;
    const headers = init.headers as Record<string, string>;
    const id = headers['idempotency-key']!;
    tries.set(id, [...(tries.get(id) ?? []), clock.now() - start]);
    if (!allBad && !id.startsWith('bad')) return Promise.resolve(new Response('ok'));
    if (kind !== 'timeout') return Promise.reject(new TypeError('Failed to fetch'));
    return new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
  };
  const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), clock, random: () => 0.5, fetch, ordering, concurrency: 4, timeoutMs: 2000, retry: RETRY });
  const refusals: string[] = [];
  outbox.addEventListener('error', (event) => refusals.push(((event as CustomEvent).detail.error as { code?: string }).code ?? '?'));
  const sentAt = new Map<string, number>();
  outbox.addEventListener('sent', (event) => sentAt.set((event as CustomEvent).detail.task.id, clock.now() - start));
  const badTask = (i: number) => ({ id: `bad-${i}`, url: 'http://api.test/t', body: 'x', headers: { 'X-Tenant': 'acme' }, group: `acme-${i}` });
  for (let i = 0; i < bad; i++) await outbox.enqueue(badTask(i));
  outbox.start();
  const enqueuedAt = new Map<string, number>();
  for (let i = 0; i < plain; i++) {
    enqueuedAt.set(`plain-${i}`, clock.now() - start);
    await outbox.enqueue({ id: `plain-${i}`, url: 'http://api.test/p', body: 'y', group: 'plain' });
    await pass(clock, every, 5);
  }
  // Requests out to a host that never answers end at their time limit, on this clock.
  let closed = false;
  const closing = outbox.close().then(() => (closed = true));
  while (!closed) await pass(clock, 1000, 1);
  await closing;
  const waits = [...enqueuedAt].map(([id, at]) => (sentAt.get(id) ?? Infinity) - at);
  const badTries = [...tries].filter(([id]) => id.startsWith('bad') || allBad).map(([, times]) => times);
  return { waits, badTries, requests, refusals, sent: sentAt.size, enqueuedAt: [...enqueuedAt.values()] };
}

/** The least gap between two tries of a task that failed `n` times: its own backoff at a draw of 0.5. */
const backoff = (n: number) => Math.floor(0.5 * Math.min(RETRY.maxDelayMs, RETRY.initialDelayMs * RETRY.factor ** (n - 1)));

describe('a host that fails some of its tasks only', () => {
  for (const kind of ['cors', 'timeout'] as const) {
    for (const ordering of ['none', 'group'] as const) {
      it(`delivers its other tasks at their pace (${kind}, ordering '${ordering}'), the failing ones on their own backoff`, async () => {
        const { waits, badTries, refusals } = await host(kind, ordering);
        // Every plain task went by the end of the host's hold (at most `maxDelayMs`, 5 s here) after it came.
        expect(Math.max(...waits)).toBeLessThanOrEqual(10_000);
        for (const times of badTries) {
          expect(times.length).toBeGreaterThan(1);
          for (let n = 1; n < times.length; n++) expect(times[n]! - times[n - 1]!).toBeGreaterThanOrEqual(backoff(n));
        }
        // A refusal is told once (again after 10 minutes), as before.
        if (kind === 'cors') expect(refusals).toEqual(['ERR_CORS']);
      }, 60_000);
    }
  }

  it('delivers its other tasks behind a backlog of a hundred that fail, stored before them', async () => {
    for (const [kind, ordering] of [['cors', 'none'], ['timeout', 'group']] as const) {
      const { waits } = await host(kind, ordering, { bad: 100, plain: 20 });
      // Tried in turn, one at each end of the host's hold, they all went before any other: 235 s for the first here
      // (hours at the default `maxDelayMs`).
      expect(Math.max(...waits), `${kind}, '${ordering}'`).toBeLessThanOrEqual(10_000);
    }
  }, 60_000);

  it('delivers its other tasks where some meet a network error every time, its only host, offline for them', async () => {
    const { waits, enqueuedAt, sent } = await host('network', 'none');
    expect(sent).toBe(60);
    // Offline (no other host answers), a probe that has not failed itself goes first: after the backlog's first
    // tries (one per probe), the others went within a few seconds; none did before.
    const later = waits.filter((_, i) => enqueuedAt[i]! >= 60_000);
    expect(Math.max(...later)).toBeLessThanOrEqual(10_000);
  }, 60_000);
});

describe('a host that fails every task', () => {
  for (const kind of ['cors', 'timeout', 'network'] as const) {
    it(`is held as a whole, its requests as few as before (${kind})`, async () => {
      const { requests, sent } = await host(kind, 'none', { bad: 20, allBad: true });
      expect(sent).toBe(0);
      expect(requests).toBeLessThanOrEqual(DOWN[kind]);
    }, 60_000);
  }
});

describe('a host whose every task failed', () => {
  it('has them tried in their turn once it is back, while another host has more tasks than the slots deliver', async () => {
    // Host A gone until 60 s (network errors), then back; host B answers in 1 s, and gets 8 tasks a second for 4 slots.
    const clock = new FakeClock();
    const start = clock.now();
    const fetch: NonNullable<OutboxOptions['fetch']> = (url) => {
      if (!String(url).startsWith('http://a.test')) return new Promise((resolve) => clock.setTimeout(() => resolve(new Response('ok')), 1000));
      return clock.now() - start < 60_000 ? Promise.reject(new TypeError('fetch failed')) : Promise.resolve(new Response('ok'));
    };
    const outbox = await Outbox.open({ name: 'busy', store: new MemoryStore(), clock, random: () => 0.5, fetch, ordering: 'none', concurrency: 4, retry: RETRY });
    const sentA: number[] = [];
    outbox.addEventListener('sent', (event) => {
      if ((event as CustomEvent).detail.task.url.startsWith('http://a.test')) sentA.push(clock.now() - start);
    });
    for (let i = 0; i < 5; i++) await outbox.enqueue({ url: 'http://a.test/x', body: 'a' });
    outbox.start();
    for (let s = 0; s < 100; s++) {
      for (let i = 0; i < 8; i++) await outbox.enqueue({ url: 'http://b.test/x', body: 'b' });
      await pass(clock, 1000, 2);
    }
    let closed = false;
    const closing = outbox.close().then(() => (closed = true));
    while (!closed) await pass(clock, 1000, 1);
    await closing;
    // Within its backoff of it coming back (5 s at most), as before; not once the other host's backlog is gone.
    expect(sentA).toHaveLength(5);
    expect(Math.max(...sentA)).toBeLessThanOrEqual(75_000);
  }, 60_000);
});

describe('a task that failed once at a host, behind a backlog there that always fails', () => {
  // Twelve tasks the host never answers in time (a huge upload each), stored first; then `once`, whose first try meets
  // a network error (a reset) and whose next would be answered, and ten plain tasks. Taken in turn, one of the backlog
  // went at each end of the host's hold, and `once` never again (its group behind it): each now goes in its turn by
  // the age of its failure there.
  for (const ordering of ['none', 'group'] as const) {
    for (const concurrency of [2, 4]) {
      it(`is tried again and delivered (${ordering}, concurrency ${concurrency})`, async () => {
        const clock = new FakeClock();
        const start = clock.now();
        let tries = 0;
        let sentAt: number | undefined;
        const fetch: NonNullable<OutboxOptions['fetch']> = (_url, init = {}) => {
          const id = (init.headers as Record<string, string>)['idempotency-key']!;
          if (id.startsWith('bad')) return new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
          if (id === 'once' && ++tries === 1) return Promise.reject(new TypeError('Failed to fetch'));
          if (id === 'once') sentAt = clock.now() - start;
          return Promise.resolve(new Response('ok'));
        };
        const retry = { initialDelayMs: 1000, maxDelayMs: 60_000, factor: 2 };
        const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), clock, random: () => 0.5, fetch, ordering, concurrency, timeoutMs: 2000, retry });
        for (let i = 0; i < 12; i++) await outbox.enqueue({ id: `bad-${i}`, url: 'http://api.test/b', body: 'x', group: `bad${i}` });
        outbox.start();
        await pass(clock, 3000, 3);
        await outbox.enqueue({ id: 'once', url: 'http://api.test/p', body: 'y', group: 'p' });
        for (let k = 0; k < 10; k++) await outbox.enqueue({ id: `plain-${k}`, url: 'http://api.test/p', body: 'y' });
        for (let s = 0; s < 3600 && sentAt === undefined; s++) await pass(clock, 1000, 1);
        let closed = false;
        const closing = outbox.close().then(() => (closed = true));
        while (!closed) await pass(clock, 1000, 1);
        await closing;
        // Within about two rounds of the backlog at its longest backoff (60 s): 29 to 769 s here.
        expect(tries).toBe(2);
        expect(sentAt).toBeLessThanOrEqual(1_800_000);
      }, 60_000);
    }
  }
});
