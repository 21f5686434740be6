export { FileStore, type FileStoreOptions, type FileSync } from './stores/fs/file-store.js';
