import type { QueueBlobs } from '../core/blobs.js';
import type { Clock } from '../core/clock.js';
import { messageOf, SluiceError } from '../core/errors.js';
import { crc32 } from '../core/crc32.js';
import { randomId } from '../core/ids.js';
import { toBase64 } from './base64.js';
import { INLINE_MAX, inlineBytes, type BlobRef, type BodySource, type StoredBody } from './body.js';

/** A stored body is written, and read when sent, this much at a time: what a send holds in memory. */
export const CHUNK = 256 * 1024;

/**
 * A blob no task names is left this long after its key's time, when its storing began: the enqueue that makes it may
 * still be storing it (a slow stream) or not yet have committed its task, and another process's clock may be ahead.
 * An hour proved short for a stream read over hours; what it costs is a crash's leftover kept a day.
 */
export const ORPHAN_GRACE_MS = 24 * 3600_000;

/** Without blobs in the store, a body is kept inside its task up to this size (an item holds 1 MiB, base64 grows 4/3). */
const WITHOUT_BLOBS_MAX = 512 * 1024;

/** A stored body made ready for one request: a stream (read a chunk at a time) or a Blob, and its length. */
export interface OpenedBody {
  readonly body: ReadableStream<Uint8Array> | Blob;
  readonly length: number;
  /**
   * Why the stream failed, when its bytes were found damaged as they went (the request then fails): the task cannot be
   * sent, and no retry changes that.
   */
  readonly damaged?: () => string | undefined;
}

/** What a body whose bytes fail their checksum is told. */
const DAMAGED = 'Its body, stored beside it, fails its checksum: the stored bytes are not those enqueued.';

/**
 * Request bodies kept beside their tasks, in the outbox queue's blobs, keyed by task: stored in chunks before the
 * task is committed, read back a chunk at a time when sent, deleted after the task is. The order (body first, then
 * the task; task removed, then the body) means a crash leaves at worst a body no task names, which `sweep` deletes
 * on a later open, never a task without its body.
 */
export class BodyStore {
  readonly #blobs: QueueBlobs | undefined;
  readonly #clock: Clock;
  readonly #maxBytes: number;
  readonly #stream: boolean;
  /**
   * Set when the outbox closes: a body still being read (a stream that stalls) is waited for no longer; each read under
   * way is refused then. A set, not listeners on one AbortSignal: Node warns of a leak past ten of those, and ten
   * large bodies enqueued at once read that many pieces.
   */
  #closed = false;
  readonly #refusals = new Set<() => void>();
  /** Bodies of tasks gone for good whose delete failed: deleted with the next ones (see `delete`). */
  readonly #undeleted = new Set<string>();

  constructor(blobs: QueueBlobs | undefined, options: { readonly clock: Clock; readonly maxBodyBytes: number; readonly stream: boolean }) {
    this.#blobs = blobs;
    this.#clock = options.clock;
    this.#maxBytes = options.maxBodyBytes;
    this.#stream = options.stream;
  }

  /**
   * Refuses a body kept inside its task that is over `maxBodyBytes` ('ERR_ITEM_TOO_LARGE'): the limit is the same
   * wherever a body is kept. Inside, a body is at most `INLINE_MAX` characters: only a lower limit needs a count.
   */
  check(body: StoredBody): void {
    if (this.#maxBytes < INLINE_MAX * 3 && inlineBytes(body) > this.#maxBytes) throw tooLarge(this.#maxBytes, true);
  }

  /**
   * The body `ref` names, as a source to store again for another task (a `BodyRef` given to `enqueue`, say from a
   * dead letter): each task owns its body, which its send, removal or purge deletes. One no longer all there, or
   * whose bytes fail their checksum, is refused ('ERR_INVALID_TASK').
   */
  copyOf(ref: BlobRef): BodySource {
    const blobs = this.#blobs;
    // Its content type is the task's header, which goes with the task.
    return {
      type: undefined,
      typeWins: false,
      async *chunks() {
        try {
          yield* checkedChunks(blobs, ref);
        } catch (error) {
          if (!(error instanceof Unreadable)) throw error;
          const why = error.gapAt === undefined ? 'its bytes fail their checksum.' : `it ends at byte ${error.gapAt} of ${ref.size}.`;
          throw new SluiceError('ERR_INVALID_TASK', `Expected \`body\` to name a body still stored: ${why}`);
        }
      },
    };
  }

  /**
   * Stores `source` for the task `id`; resolves the stored body. Over `maxBodyBytes`: 'ERR_ITEM_TOO_LARGE', and
   * nothing is left behind. Without blobs in the store, a body up to 512 KiB is kept inside its task.
   */
  async store(id: string, source: BodySource): Promise<StoredBody> {
    const blobs = this.#blobs;
    const limit = blobs ? this.#maxBytes : Math.min(this.#maxBytes, WITHOUT_BLOBS_MAX);
    const key = `${this.#clock.now().toString(36)}-${randomId()}-${id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}`;
    const held: Uint8Array[] = [];
    let size = 0;
    let written = 0;
    let heldBytes = 0;
    let crc = 0;
    const pieces = source.chunks()[Symbol.asyncIterator]();
    try {
      for (let next = await this.#next(pieces); !next.done; next = await this.#next(pieces)) {
        const piece = next.value;
        size += piece.length;
        crc = crc32(piece, 0, piece.length, crc);
        if (size > limit) throw tooLarge(limit, blobs !== undefined);
        held.push(piece);
        heldBytes += piece.length;
        // Written a chunk at a time: memory holds about one chunk, whatever the body's size.
        while (blobs && heldBytes >= CHUNK) {
          const chunk = take(held, CHUNK);
          heldBytes -= chunk.length;
          await this.#append(blobs, key, written, chunk);
          written += chunk.length;
        }
      }
      if (!blobs || size === 0) return { base64: toBase64(take(held, heldBytes)) };
      if (heldBytes > 0) await this.#append(blobs, key, written, take(held, heldBytes));
      return { blob: { key, size, crc } };
    } catch (error) {
      if (written > 0) await blobs!.delete([key]).catch(() => undefined);
      if (error instanceof SluiceError) throw error;
      throw new SluiceError('ERR_INVALID_TASK', `Expected task \`body\` to be readable; reading it failed: ${messageOf(error)}`, { cause: error });
    }
  }

  /**
   * Writes the next chunk of a body. The store refuses one past the blob's end (ERR_INVALID_OPTION): the blob was
   * deleted under the write (another handle's sweep of old bodies, site data cleared), which is the store's doing.
   */
  async #append(blobs: QueueBlobs, key: string, at: number, chunk: Uint8Array): Promise<void> {
    await blobs.write(key, at, chunk).catch((error: unknown) => {
      if (at === 0 || !(error instanceof SluiceError && error.code === 'ERR_INVALID_OPTION')) throw error;
      throw new SluiceError('ERR_STORAGE', `The stored body ${key} was deleted while it was being stored, after ${at} bytes; nothing was enqueued.`, { cause: error });
    });
  }

  /** The outbox closes: bodies still being read are given up ('ERR_CLOSED'), what they wrote deleted. */
  close(): void {
    this.#closed = true;
    for (const refuse of this.#refusals) refuse();
  }

  /** The next piece of a body being stored, unless the outbox closes first (the source is then left to itself). */
  #next(pieces: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> {
    return this.whileOpen(pieces.next(), () => void pieces.return?.()?.catch(() => undefined));
  }

  /**
   * What `reading` (of a task's body) resolves, unless the outbox closes first: then 'ERR_CLOSED', after `closed`. A
   * body that never ends must not hold up the close, which waits for the enqueues under way.
   */
  whileOpen<T>(reading: Promise<T>, closed?: () => void): Promise<T> {
    return new Promise((resolve, reject) => {
      const refuse = (): void => {
        this.#refusals.delete(refuse);
        closed?.();
        reject(new SluiceError('ERR_CLOSED', 'The outbox closed while a task body was still being read: the task was not stored.'));
      };
      if (this.#closed) return refuse();
      this.#refusals.add(refuse);
      reading.then(resolve, reject).finally(() => this.#refusals.delete(refuse));
    });
  }

  /**
   * The body `ref` names, ready for one request: a stream that reads a chunk when fetch asks for one (where the
   * platform streams request bodies), else a Blob put together a chunk at a time. A string says why it cannot be
   * sent (no retry changes that): the store no longer holds all of it, or its bytes fail their checksum. A stream's
   * bytes are checked as they go, the last chunk held back until they pass, so that a damaged body never reaches a
   * server whole: its request fails, and `damaged` says why.
   */
  async open(ref: BlobRef, type: string | undefined): Promise<OpenedBody | string> {
    const blobs = this.#blobs;
    const gone = 'Its body, stored beside it, is no longer all in the store.';
    if (!blobs || (await blobs.read(ref.key, ref.size - 1, ref.size)).length !== 1) return gone;
    if (!this.#stream) {
      let blob = new Blob([], type === undefined ? {} : { type });
      try {
        // Grown a chunk at a time, so that each chunk can be let go once the Blob holds it.
        for await (const bytes of checkedChunks(blobs, ref)) blob = new Blob([blob, bytes as Uint8Array<ArrayBuffer>], type === undefined ? {} : { type });
      } catch (error) {
        if (!(error instanceof Unreadable)) throw error;
        return error.gapAt === undefined ? DAMAGED : gone;
      }
      return { body: blob, length: ref.size };
    }
    const chunks = checkedChunks(blobs, ref);
    let sent = 0;
    let damaged: string | undefined;
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          let bytes: Uint8Array;
          try {
            bytes = (await chunks.next()).value!;
          } catch (error) {
            if (!(error instanceof Unreadable)) throw error;
            // A gap the check at open (its last byte) could not see, or damage: no retry sends it whole.
            damaged = error.gapAt === undefined ? DAMAGED : gone;
            throw new SluiceError('ERR_CORRUPT', error.gapAt === undefined ? DAMAGED : `The stored body ${ref.key} ended at byte ${error.gapAt} of ${ref.size}.`);
          }
          controller.enqueue(bytes);
          sent += bytes.length;
          if (sent >= ref.size) controller.close();
        },
        cancel() {
          void chunks.return(undefined);
        },
      },
      // Nothing read ahead of what fetch asks for.
      { highWaterMark: 0 },
    );
    return { body, length: ref.size, damaged: () => damaged };
  }

  /**
   * Deletes the bodies `keys` (their tasks are gone), and those whose delete failed before: a full quota refuses even
   * a delete in Firefox, and left alone they held the space for a day (see `sweep`), when it was needed most.
   */
  async delete(keys: readonly string[]): Promise<void> {
    if (!this.#blobs || (keys.length === 0 && this.#undeleted.size === 0)) return;
    const all = this.#undeleted.size === 0 ? keys : [...new Set([...this.#undeleted, ...keys])];
    try {
      await this.#blobs.delete(all);
      for (const key of all) this.#undeleted.delete(key);
    } catch (error) {
      for (const key of keys) this.#undeleted.add(key);
      throw error;
    }
  }

  /**
   * Deletes bodies no task names, older than `ORPHAN_GRACE_MS` (a crash between storing a body and its task, or
   * between removing a task and its body, left them). `named` reads the bodies pending tasks and dead letters
   * name; it is asked twice around the listing, so that a task moving between the two (to dead, or back from it)
   * while this runs is seen in one place or the other.
   */
  async sweep(named: () => Promise<Set<string>>): Promise<void> {
    const blobs = this.#blobs;
    if (!blobs) return;
    const before = await named();
    const now = this.#clock.now();
    const old = (await blobs.keys()).filter((key) => !before.has(key) && now - parseInt(key, 36) > ORPHAN_GRACE_MS);
    if (old.length === 0) return;
    const after = await named();
    await blobs.delete(old.filter((key) => !after.has(key)));
  }
}

/** Why a stored body cannot be read whole: a gap at `gapAt` (the store no longer holds all of it), else damage. */
class Unreadable extends Error {
  constructor(readonly gapAt: number | undefined) {
    super(gapAt === undefined ? DAMAGED : `The stored body ends at byte ${gapAt}.`);
  }
}

/**
 * The stored body `ref` names, a chunk at a time, its checksum folded as they go. The last chunk is held back until
 * the bytes pass, so that a damaged body is never handed on whole; a gap or damage throws `Unreadable`.
 */
async function* checkedChunks(blobs: QueueBlobs | undefined, ref: BlobRef): AsyncGenerator<Uint8Array, void, undefined> {
  let crc = 0;
  for (let at = 0; at < ref.size; ) {
    const bytes = blobs ? await blobs.read(ref.key, at, Math.min(ref.size, at + CHUNK)) : new Uint8Array(0);
    if (bytes.length === 0) throw new Unreadable(at);
    crc = crc32(bytes, 0, bytes.length, crc);
    at += bytes.length;
    if (at >= ref.size && ref.crc !== undefined && crc !== ref.crc) throw new Unreadable(undefined);
    yield bytes;
  }
}

/** The first `n` bytes held (all of them when fewer), taken out of `held`. */
function take(held: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n && held.length > 0) {
    const first = held[0]!;
    const part = first.subarray(0, n - at);
    out.set(part, at);
    at += part.length;
    if (part.length === first.length) held.shift();
    else held[0] = first.subarray(part.length);
  }
  return at === n ? out : out.subarray(0, at);
}

function tooLarge(limit: number, blobs: boolean): SluiceError {
  const why = blobs ? '`maxBodyBytes`' : 'what an outbox keeps inside a task (its store keeps no blobs, see `BlobStorage`)';
  return new SluiceError('ERR_ITEM_TOO_LARGE', `The task's body is over ${limit} bytes, ${why}; nothing was enqueued.`);
}
