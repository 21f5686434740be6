import { describe, expectTypeOf, it } from 'vitest';
import type { Store } from '../../../src/index.js';
import { IndexedDbStore, type BlockedDetail, type IndexedDbStoreOptions } from '../../../src/indexeddb.js';

describe('sluice/indexeddb public types', () => {
  it('IndexedDbStore is a Store and an EventTarget whose listeners know its events', () => {
    expectTypeOf<IndexedDbStore>().toMatchTypeOf<Store>();
    expectTypeOf<IndexedDbStore>().toMatchTypeOf<EventTarget>();
    expectTypeOf<IndexedDbStoreOptions['blockedTimeoutMs']>().toEqualTypeOf<number | undefined>();
    const store = new IndexedDbStore();
    const onBlocked = (event: CustomEvent<BlockedDetail>) => expectTypeOf(event.detail.oldVersion).toBeNumber();
    store.addEventListener('blocked', onBlocked);
    store.addEventListener('blocked', (event) => expectTypeOf(event.detail).toEqualTypeOf<BlockedDetail>());
    store.removeEventListener('blocked', onBlocked);
    // @ts-expect-error the time is a number of milliseconds
    void (() => new IndexedDbStore({ blockedTimeoutMs: '10s' }));
  });
});
