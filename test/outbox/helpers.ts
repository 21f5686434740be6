import { afterEach, beforeEach, inject } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
// The Node entry's Outbox: what a Node app gets (bodies stored beside their tasks are streamed).
import { Outbox } from '../../src/index.node.js';
import type { OutboxOptions } from '../../src/outbox/options.js';
import type { OutboxEventMap } from '../../src/outbox/events.js';
import { FakeClock } from '../support/fake-clock.js';
import { FaultServer } from './fault-server.js';

/**
 * An outbox on a MemoryStore (or, with SLUICE_OUTBOX_STORE=redis, a RedisStore on the redis-server the
 * 'outbox-on-redis' project starts) and a fake clock, against a fresh fault server; `reopen` is a restart.
 */
export interface Rig {
  readonly server: FaultServer;
  readonly store: Store;
  readonly clock: FakeClock;
  outbox: Outbox;
  /** Every fetch the outbox started. */
  readonly calls: string[];
  open(extra?: Partial<OutboxOptions>, clock?: FakeClock): Promise<Outbox>;
  /** Closes the current outbox and opens another on the same store: what a restarted process sees. */
  reopen(extra?: Partial<OutboxOptions>): Promise<Outbox>;
  /** Events of `type` seen so far on the current outbox. */
  events<K extends keyof OutboxEventMap>(type: K): OutboxEventMap[K] extends CustomEvent<infer D> ? D[] : Event[];
  teardown(): Promise<void>;
}

export async function rig(options: Partial<OutboxOptions> = {}): Promise<Rig> {
  const server = await FaultServer.start();
  const { store, close } = await makeStore();
  const clock = new FakeClock();
  const calls: string[] = [];
  const seen = new Map<string, unknown[]>();
  const opened: Outbox[] = [];
  const fetchSpy: typeof fetch = (input, init) => {
    calls.push(String(input));
    return fetch(input, init);
  };
  const r: Rig = {
    server,
    store,
    clock,
    calls,
    outbox: undefined as unknown as Outbox,
    async open(extra = {}, withClock = clock) {
      const outbox = await Outbox.open({ name: 'api', store, clock: withClock, random: () => 0.5, baseUrl: server.url, fetch: fetchSpy, ...options, ...extra });
      seen.clear();
      for (const type of ['enqueue', 'sent', 'retry', 'dead', 'drained', 'online', 'offline', 'error']) {
        outbox.addEventListener(type, (e) => {
          if (!seen.has(type)) seen.set(type, []);
          seen.get(type)!.push(e instanceof CustomEvent ? e.detail : e);
        });
      }
      opened.push(outbox);
      r.outbox = outbox;
      return outbox;
    },
    async reopen(extra = {}) {
      await r.outbox.close();
      return r.open(extra);
    },
    events(type) {
      return (seen.get(type) ?? []) as never;
    },
    async teardown() {
      await server.close();
      await Promise.allSettled(opened.map((o) => o.close()));
      await close();
    },
  };
  await r.open();
  return r;
}

let stores = 0;

/** The store the suites run on: SLUICE_OUTBOX_STORE picks it ('memory' by default). */
async function makeStore(): Promise<{ store: Store; close: () => Promise<void> }> {
  if (process.env.SLUICE_OUTBOX_STORE !== 'redis') return { store: new MemoryStore(), close: async () => undefined };
  const { RedisStore } = await import('../../src/redis.js');
  // A prefix per rig: every test starts from empty queues on the one server.
  const store = new RedisStore({ url: inject('sluiceRedisUrl'), prefix: `outbox.${process.pid}.${stores++}:` });
  return { store, close: () => store.close() };
}

declare module 'vitest' {
  export interface ProvidedContext {
    sluiceRedisUrl: string;
  }
}

/**
 * A MemoryStore whose next `times` commits to the queue `name` fail ('the disk is gone') once `arm` was called: the
 * next one by default, every one with Infinity, none again with 0; with `after`, those after the next `after`. With
 * `landing`, a commit that fails is made all the same, its reply lost (a connection dropped after the command ran).
 */
export function failingCommit(name: string, landing = false): { store: MemoryStore; arm: (times?: number, after?: number) => void } {
  let left = 0;
  let passing = 0;
  const store = new MemoryStore();
  const open = store.open.bind(store);
  store.open = async (opened) => {
    const storage = await open(opened);
    const commit = storage.commit.bind(storage);
    const fail = async (token: Parameters<typeof commit>[0], batch: Parameters<typeof commit>[1]): Promise<never> => {
      if (landing) await commit(token, batch);
      throw new Error('the disk is gone');
    };
    if (opened === name) storage.commit = (token, batch) => (passing > 0 ? (passing--, commit(token, batch)) : left > 0 ? (left--, fail(token, batch)) : commit(token, batch));
    return storage;
  };
  return { store, arm: (times = 1, after = 0) => ((left = times), (passing = after)) };
}

/** Runs `fn` with no BroadcastChannel: handles hear nothing of each other, as processes do. */
export async function hearingNothing(fn: () => Promise<void>): Promise<void> {
  const Channel = globalThis.BroadcastChannel;
  (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel = undefined;
  try {
    await fn();
  } finally {
    globalThis.BroadcastChannel = Channel;
  }
}

/** Resolves with the next event of `type` on `target`. */
export function next<T = unknown>(target: EventTarget, type: string): Promise<T> {
  return new Promise((resolve) => target.addEventListener(type, (e) => resolve((e instanceof CustomEvent ? e.detail : e) as T), { once: true }));
}

/**
 * For tests of several handles of one outbox over one store (tabs, a worker, processes): a local server started
 * before each test, and `open`, which opens a handle on it that is closed after the test, with the server.
 */
export function handlesOf(name: string) {
  const opened: Outbox[] = [];
  const shared = {
    server: undefined as unknown as FaultServer,
    async open(store: Store, extra: Partial<OutboxOptions> = {}): Promise<Outbox> {
      const outbox = await Outbox.open({ name, store, baseUrl: shared.server.url, ...extra });
      opened.push(outbox);
      return outbox;
    },
  };
  beforeEach(async () => {
    shared.server = await FaultServer.start();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((outbox) => outbox.close()));
    await shared.server.close();
  });
  return shared;
}

/** Lets promise callbacks and real I/O run while a fake clock stands still. */
export const io = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** Real time passes until `condition` holds, or `ms` (then the test's own expectation says what is missing). */
export async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !condition() && Date.now() < end; ) await io(10);
}

/** Moves `clock` `ms` forward in `steps`, letting the outbox work between steps; says how many timers fired. */
export async function pass(clock: FakeClock, ms: number, steps = 10): Promise<number> {
  const before = clock.fired;
  for (let i = 0; i < steps; i++) {
    clock.advance(ms / steps);
    await io(5);
  }
  return clock.fired - before;
}

/** Has `server` answer its first request 429 with Retry-After `value` (and `extra` headers), the others as it would. */
export function limitFirst(server: FaultServer, value: string | number = '60', extra: Record<string, string> = {}): void {
  let first = true;
  server.script(() => {
    if (!first) return undefined;
    first = false;
    return { status: 429, headers: { 'retry-after': String(value), ...extra } };
  });
}
