import { describe, SluiceError } from './errors.js';
import type { BlobStorage, Durability } from './store.js';
import { check, integer, invalid } from './validate.js';

// Never '.' or '..': a store that keeps a blob as a file under its key would name a directory.
const KEY = /^(?!\.\.?$)[A-Za-z0-9._-]{1,200}$/;

/** A write at an offset that is neither 0 nor blob `key`'s `length` (see `BlobStorage.write`): it would leave a gap. */
export function notAtEnd(key: string, offset: number, length: number): SluiceError {
  return new SluiceError('ERR_INVALID_OPTION', `Expected \`offset\` to be 0 (a new blob) or the length of blob ${key} (${length}, an append), got ${offset}.`);
}

/**
 * A queue's blobs (`Queue.blobs`): large values kept beside its items in the queue's store (see `BlobStorage`),
 * written with the queue's durability. Keys are 1–200 characters of [A-Za-z0-9._-] (not "." or ".."), checked before
 * they reach the store; calls on a closed queue reject 'ERR_CLOSED'.
 */
export interface QueueBlobs {
  /** Writes `bytes` at `offset` of blob `key`: 0 starts it afresh, its current length appends. */
  write(key: string, offset: number, bytes: Uint8Array): Promise<void>;
  /** Bytes `[start, end)` of blob `key`: fewer at its end, none when it does not exist. */
  read(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Deletes the blobs `keys` (those that exist). */
  delete(keys: readonly string[]): Promise<void>;
  /** The keys of every blob. */
  keys(): Promise<string[]>;
}

/** `QueueBlobs` over a store's `BlobStorage`. An interface for users: a class's private fields would be part of its type. */
export class Blobs implements QueueBlobs {
  readonly #storage: BlobStorage;
  readonly #durability: Durability;
  readonly #checkOpen: () => void;

  constructor(storage: BlobStorage, durability: Durability, checkOpen: () => void) {
    this.#storage = storage;
    this.#durability = durability;
    this.#checkOpen = checkOpen;
  }

  async write(key: string, offset: number, bytes: Uint8Array): Promise<void> {
    this.#check([key]);
    check({ offset, bytes }, { offset: integer(0), bytes: ['a Uint8Array', (v) => v instanceof Uint8Array] });
    return this.#storage.write(key, offset, bytes, this.#durability);
  }

  async read(key: string, start: number, end: number): Promise<Uint8Array> {
    this.#check([key]);
    check({ start, end }, { start: integer(0), end: integer(0) });
    return this.#storage.read(key, start, end);
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (!Array.isArray(keys)) invalid('keys', 'an array of blob keys', keys);
    this.#check(keys);
    if (keys.length > 0) await this.#storage.delete(keys);
  }

  async keys(): Promise<string[]> {
    this.#checkOpen();
    return this.#storage.keys();
  }

  #check(keys: readonly string[]): void {
    this.#checkOpen();
    for (const key of keys) {
      if (typeof key !== 'string' || !KEY.test(key)) {
        throw new SluiceError('ERR_INVALID_OPTION', `Expected a blob key of 1–200 characters of [A-Za-z0-9._-] (not "." or ".."), got ${describe(key)}.`);
      }
    }
  }
}
