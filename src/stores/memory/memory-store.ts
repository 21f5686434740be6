import type { QueueStorage, StorageBatch, StorageSnapshot, Store } from '../../core/store.js';
import { randomId } from '../../core/ids.js';
import { MemoryBlobs } from './memory-blobs.js';
import { invalid } from '../../core/validate.js';

/** A segment's (or the metadata's) bytes are `buffer[0, length)`; the buffer grows by doubling, so appends do not copy it. */
interface Bytes {
  buffer: Uint8Array;
  length: number;
}

interface Stored {
  version: number;
  meta: Bytes | undefined;
  segments: Map<number, Bytes>;
  quarantined: Map<number, Uint8Array>;
  listeners: Set<() => void>;
  blobs: MemoryBlobs;
}

/**
 * Keeps queues in memory: the whole Store contract without persistence, for tests and ephemeral work. Several
 * `Queue` handles opened on one `MemoryStore` share their queues the way two processes share a directory.
 */
export class MemoryStore implements Store {
  /** Its queues are its own: no other store shares them. */
  readonly scope = `memory:${randomId()}`;
  readonly #queues = new Map<string, Stored>();

  /** Takes no options: one given (`{ dir }`, meant for a FileStore) would do nothing, silently. */
  constructor(...none: []) {
    const given = (none as unknown[]).find((option) => option !== undefined);
    if (given !== undefined) invalid('options', 'left out (a MemoryStore takes none)', given);
  }

  async open(name: string): Promise<QueueStorage> {
    let stored = this.#queues.get(name);
    if (!stored) {
      stored = { version: 0, meta: undefined, segments: new Map(), quarantined: new Map(), listeners: new Set(), blobs: new MemoryBlobs() };
      this.#queues.set(name, stored);
    }
    return new MemoryQueueStorage(stored);
  }

  async exists(name: string): Promise<boolean> {
    return this.#queues.has(name);
  }

  /** Names of the queues this store holds. */
  names(): string[] {
    return [...this.#queues.keys()];
  }
}

class MemoryQueueStorage implements QueueStorage {
  readonly #stored: Stored;
  readonly blobs: MemoryBlobs;
  #listener: (() => void) | undefined;

  constructor(stored: Stored) {
    this.#stored = stored;
    this.blobs = stored.blobs;
  }

  async load(): Promise<StorageSnapshot> {
    const { version, meta, segments } = this.#stored;
    const ids = [...segments.keys()].sort((a, b) => a - b);
    return { token: String(version), meta: meta?.buffer.slice(0, meta.length), segments: ids.map((id) => ({ id, length: segments.get(id)!.length })) };
  }

  async token(): Promise<string> {
    return String(this.#stored.version);
  }

  async read(segment: number, start: number, end: number): Promise<Uint8Array> {
    const bytes = this.#stored.segments.get(segment);
    return bytes ? bytes.buffer.slice(Math.min(start, bytes.length), Math.min(end, bytes.length)) : new Uint8Array(0);
  }

  async commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    const stored = this.#stored;
    if (token !== String(stored.version)) return undefined;
    const { write, meta, metaAppend, remove, quarantine } = batch;
    if (write) stored.segments.set(write.segment, writeAt(stored.segments.get(write.segment), write.offset, write.bytes));
    // Into the buffer the metadata had (a snapshot is a copy): a large queue's state, written whole again and again,
    // would otherwise cost a fresh buffer each time, and another as the appends after it outgrow that.
    if (meta) stored.meta = writeAt(stored.meta, 0, meta);
    if (metaAppend) stored.meta = writeAt(stored.meta, metaAppend.offset, metaAppend.bytes);
    for (const id of remove ?? []) stored.segments.delete(id);
    for (const id of quarantine ?? []) {
      const segment = stored.segments.get(id);
      if (segment) stored.quarantined.set(id, segment.buffer.slice(0, segment.length));
      stored.segments.delete(id);
    }
    stored.version++;
    for (const listener of stored.listeners) if (listener !== this.#listener) queueMicrotask(listener);
    return String(stored.version);
  }

  watch(listener: () => void): () => void {
    this.#listener = listener;
    this.#stored.listeners.add(listener);
    return () => this.#stored.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#listener) this.#stored.listeners.delete(this.#listener);
  }
}

/** `segment` (or a new one) with `bytes` copied in at `offset` and cut there; grown by doubling when it must. */
function writeAt(segment: Bytes = { buffer: new Uint8Array(0), length: 0 }, offset: number, bytes: Uint8Array): Bytes {
  const length = offset + bytes.length;
  if (length > segment.buffer.length) {
    const grown = new Uint8Array(Math.max(length, segment.buffer.length * 2, 256));
    grown.set(segment.buffer.subarray(0, Math.min(segment.length, offset)));
    segment.buffer = grown;
  }
  // Copied, so that a caller reusing its buffer cannot change what is stored.
  segment.buffer.set(bytes, offset);
  segment.length = length;
  return segment;
}
