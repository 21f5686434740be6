import { notAtEnd } from '../../core/blobs.js';
import type { BlobStorage, Durability } from '../../core/store.js';
import { attempt } from './attempt.js';
import { confirmed, unconfirmed } from './commit-run.js';
import type { QueueKeys } from './keys.js';
import type { StoreContext } from './queue-storage.js';

const EMPTY = new Uint8Array(0);

/**
 * One queue's blobs in Redis: a string per blob (`b:<key>`, written by SET and SETRANGE, read by GETRANGE) and a set
 * of their keys (`bk`), all under the queue's hash tag, so a Cluster keeps them on the queue's node. Every call is
 * idempotent (a write puts the same bytes at the same place), so a call lost with its connection is simply sent
 * again. The key joins the set before its bytes are written: a crash between leaves a listed empty blob (deleted
 * like any other), never bytes that nothing lists.
 */
export class RedisBlobs implements BlobStorage {
  readonly #name: string;
  readonly #keys: QueueKeys;
  readonly #context: StoreContext;

  constructor(name: string, keys: QueueKeys, context: StoreContext) {
    this.#name = name;
    this.#keys = keys;
    this.#context = context;
  }

  async write(key: string, offset: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    const wait = durability === 'strict' ? await this.#context.strictReplicas() : 0;
    const { client, options } = this.#context;
    if (offset > 0) {
      // Past the end, SETRANGE would fill the gap with zeros. Short of it is allowed: an append sent again, its reply lost.
      const length = await this.#call('read a blob of', () => client.strlen(this.#keys.blob(key)));
      if (offset > length) throw notAtEnd(key, offset, length);
    }
    const written = await this.#call('write a blob of', async () => {
      const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const pipeline = client.pipeline();
      // Listed at every piece, not only the first: a blob deleted between two pieces (collected as a leftover) comes
      // back with the next piece, and must be listed to be collected again.
      pipeline.sadd(this.#keys.blobIndex, key);
      if (offset === 0) pipeline.set(this.#keys.blob(key), data);
      else pipeline.setrange(this.#keys.blob(key), offset, data);
      // WAIT on the same connection, right behind the write (a Cluster routes the pipeline by the queue's slot).
      if (wait > 0) pipeline.wait(wait, options.replicaTimeoutMs);
      const replies = (await pipeline.exec()) ?? [];
      const waited = wait > 0 ? replies.pop() : undefined;
      for (const [error] of replies) if (error) throw error;
      return wait > 0 ? confirmed(waited) : { acked: 0 };
    }, wait > 0 ? options.replicaTimeoutMs : 0);
    if (written.acked < wait) throw unconfirmed(`A blob write of queue "${this.#name}"`, wait, options.replicaTimeoutMs, written);
  }

  async read(key: string, start: number, end: number): Promise<Uint8Array> {
    // GETRANGE's end is inclusive, and a negative end counts from the string's end: an empty range asks nothing.
    if (end <= start) return EMPTY;
    const bytes = await this.#call('read a blob of', () => this.#context.client.getrangeBuffer(this.#keys.blob(key), start, end - 1));
    return new Uint8Array(bytes);
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#call('delete blobs of', async () => {
      const replies = await this.#context.client
        .pipeline()
        .del(...keys.map((k) => this.#keys.blob(k)))
        .srem(this.#keys.blobIndex, ...keys)
        .exec();
      for (const [error] of replies ?? []) if (error) throw error;
    });
  }

  keys(): Promise<string[]> {
    return this.#call('list the blobs of', () => this.#context.client.smembers(this.#keys.blobIndex));
  }

  #call<T>(what: string, call: () => Promise<T>, graceMs = 0): Promise<T> {
    return attempt(`${what} queue "${this.#name}"`, this.#context.options.retryMs, this.#context, call, graceMs);
  }
}
