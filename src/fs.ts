export { FileStore, type FileStoreOptions, type FileSync } from './stores/fs/file-store.js';
export type { LockTiming } from './stores/fs/diagnostics.js';
