import { Blobs } from '../../core/blobs.js';
import { systemClock } from '../../core/clock.js';
import { SluiceError } from '../../core/errors.js';
import type { Queue } from '../../core/queue.js';
import type { QueueStorage } from '../../core/store.js';
import { BodyStore } from '../../outbox/body-store.js';
import type { BlobRef } from '../../outbox/body.js';
import type { Context } from './context.js';
import type { QueueKind } from './layout.js';

/** What a drained line says of a body kept beside its task: its bytes in base64, or why they cannot be read. */
export type BodyFields = { readonly body: string } | { readonly bodyError: string } | Record<string, never>;

/**
 * The request bodies an outbox keeps beside its tasks (a Blob, a form, a body over 64 KB), for `drain`: the entry
 * names only the body's key, and once the entry is acked the outbox's sweep deletes the body a day later, unless
 * something else names it (a dead letter and its retried task share one). So each is printed whole, in base64,
 * beside the entry that names it: the line is then all that is left of the request. An outbox's dead letters name
 * bodies kept with its pending tasks, in the outbox's queue.
 */
export class DrainedBodies {
  readonly #bodies: BodyStore;
  readonly #dead: boolean;
  readonly #close: () => Promise<void>;

  private constructor(bodies: BodyStore, dead: boolean, close: () => Promise<void>) {
    this.#bodies = bodies;
    this.#dead = dead;
    this.#close = close;
  }

  /** The bodies of the outbox that `name` (of `kind`) is, or belongs to; undefined for a queue of another kind. */
  static async open(ctx: Context, name: string, kind: QueueKind, queue: Queue<unknown>): Promise<DrainedBodies | undefined> {
    const options = { clock: systemClock, maxBodyBytes: Infinity, stream: false };
    if (kind === 'outbox') return new DrainedBodies(new BodyStore(queue.blobs, options), false, async () => undefined);
    if (kind !== 'dead-letters') return undefined;
    const storage: QueueStorage = await ctx.store.open(name.slice(0, -'.dead'.length));
    const blobs = storage.blobs && new Blobs(storage.blobs, 'relaxed', () => undefined);
    return new DrainedBodies(new BodyStore(blobs, options), true, () => storage.close());
  }

  /** The fields a drained line of `value` gets for the body it names (none for a body kept inside it). */
  async fieldsOf(value: unknown): Promise<BodyFields> {
    const ref = this.#ref(value);
    if (!ref) return {};
    // A reference no body store would write (a plain queue's item, named as an outbox's) is said on its line too;
    // a store that fails stops the drain before its ack, as any failure does.
    const invalid = (error: unknown) => error instanceof SluiceError && error.code === 'ERR_INVALID_OPTION';
    const opened = await this.#bodies.open(ref, undefined).catch((error: unknown) => (invalid(error) ? (error as Error).message : Promise.reject(error)));
    if (typeof opened === 'string') return { bodyError: opened };
    return { body: Buffer.from(await (opened.body as Blob).arrayBuffer()).toString('base64') };
  }

  close(): Promise<void> {
    return this.#close();
  }

  #ref(value: unknown): BlobRef | undefined {
    const task = (this.#dead ? (value as { task?: unknown } | null)?.task : value) as { body?: { blob?: BlobRef } } | null | undefined;
    const ref = task?.body?.blob;
    return ref && typeof ref.key === 'string' && typeof ref.size === 'number' ? ref : undefined;
  }
}
