export {
  IndexedDbStore,
  type BlockedDetail,
  type DataLossDetail,
  type IndexedDbFactory,
  type IndexedDbStoreEventMap,
  type IndexedDbStoreOptions,
} from './stores/indexeddb/indexeddb-store.js';
