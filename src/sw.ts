export { backgroundSync, type BackgroundSyncOptions, type SyncableOutbox } from './platform/service-worker.js';
