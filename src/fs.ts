export { FileStore, type FileStoreOptions } from './stores/fs/file-store.js';
