import { notAtEnd } from '../../core/blobs.js';
import type { BlobStorage } from '../../core/store.js';

/** A blob's bytes are `buffer[0, length)`; the buffer grows by doubling, so appends do not copy it each time. */
interface Bytes {
  buffer: Uint8Array;
  length: number;
}

/** One queue's blobs in memory, shared by every handle on that queue of the `MemoryStore`. */
export class MemoryBlobs implements BlobStorage {
  readonly #blobs = new Map<string, Bytes>();

  async write(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    const blob = offset === 0 ? { buffer: new Uint8Array(0), length: 0 } : (this.#blobs.get(key) ?? { buffer: new Uint8Array(0), length: 0 });
    if (offset !== blob.length) throw notAtEnd(key, offset, blob.length);
    const length = offset + bytes.length;
    if (length > blob.buffer.length) {
      const grown = new Uint8Array(Math.max(length, blob.buffer.length * 2));
      grown.set(blob.buffer.subarray(0, blob.length));
      blob.buffer = grown;
    }
    // Copied, so that a caller reusing its buffer cannot change what is stored.
    blob.buffer.set(bytes, offset);
    blob.length = length;
    this.#blobs.set(key, blob);
  }

  async read(key: string, start: number, end: number): Promise<Uint8Array> {
    const blob = this.#blobs.get(key);
    if (!blob) return new Uint8Array(0);
    return blob.buffer.slice(Math.min(start, blob.length), Math.min(end, blob.length));
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#blobs.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.#blobs.keys()];
  }
}
