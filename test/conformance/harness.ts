import type { ExpectStatic } from '@vitest/expect';
import type { QueueStorage, StorageBatch, Store } from '../../src/core/store.js';

/** The test functions a suite needs: vitest's in Node, mocha's globals plus `@vitest/expect` in browsers. */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void> | void, timeout?: number): void;
  expect: ExpectStatic;
  beforeEach(fn: () => Promise<void> | void): void;
  afterEach(fn: () => Promise<void> | void): void;
}

/** How a suite gets places to put queues in. */
export interface StoreHarness {
  /**
   * A fresh, empty place. `open` makes a new Store instance over that same place, as a restarted process or a
   * second tab would see it; `teardown` removes the place.
   */
  setup(): Promise<{ open(): Store | Promise<Store>; teardown(): Promise<void> }>;
}

/**
 * A fresh place and store for each test of a suite, and the queues it opened, closed after it: `open` opens a
 * queue through the suite's store, or through `from` (another store over the same place: `place.open()`).
 */
export interface PlacePerTest {
  place: Awaited<ReturnType<StoreHarness['setup']>>;
  store: Store;
  opened: QueueStorage[];
  open(name?: string, from?: Store): Promise<QueueStorage>;
}

export function placeEachTest(t: TestApi, harness: StoreHarness): PlacePerTest {
  const here: PlacePerTest = {
    place: undefined as unknown as Awaited<ReturnType<StoreHarness['setup']>>,
    store: undefined as unknown as Store,
    opened: [] as QueueStorage[],
    async open(name = 'q', from: Store = here.store): Promise<QueueStorage> {
      const s = await from.open(name);
      here.opened.push(s);
      return s;
    },
  };
  t.beforeEach(async () => {
    here.place = await harness.setup();
    here.store = await here.place.open();
    here.opened = [];
  });
  t.afterEach(async () => {
    for (const s of here.opened) await s.close();
    await here.place.teardown();
  });
  return here;
}

export { FakeClock } from '../support/fake-clock.js';

/** Counts what a store is asked to do, and can be told to fail the next commit. */
export class CountingStore implements Store {
  commits = 0;
  reads = 0;
  failNext: unknown;
  readonly #inner: Store;

  constructor(inner: Store) {
    this.#inner = inner;
  }

  async open(name: string): Promise<QueueStorage> {
    const inner = await this.#inner.open(name);
    const counter = this;
    const storage: QueueStorage = {
      load: () => inner.load(),
      token: () => inner.token(),
      read: (segment, start, end) => {
        counter.reads++;
        return inner.read(segment, start, end);
      },
      async commit(token: string, batch: StorageBatch) {
        if (counter.failNext !== undefined) {
          const error = counter.failNext;
          counter.failNext = undefined;
          throw error;
        }
        counter.commits++;
        return inner.commit(token, batch);
      },
      close: () => inner.close(),
      ...(inner.watch && { watch: inner.watch.bind(inner) }),
      ...(inner.owner !== undefined && { owner: inner.owner }),
      ...(inner.isGone && { isGone: inner.isGone.bind(inner) }),
    };
    return storage;
  }
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets pending promise callbacks and zero-delay timers run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => globalThis.setTimeout(resolve, 0));
}
