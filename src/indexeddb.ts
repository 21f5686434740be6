export {
  IndexedDbStore,
  type BlockedDetail,
  type IndexedDbFactory,
  type IndexedDbStoreEventMap,
  type IndexedDbStoreOptions,
} from './stores/indexeddb/indexeddb-store.js';
