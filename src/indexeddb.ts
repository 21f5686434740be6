export { IndexedDbStore, type IndexedDbStoreOptions, type IndexedDbFactory } from './stores/indexeddb/indexeddb-store.js';
