import { copyBytes } from '../../core/copy-bytes.js';
import type { StorageBatch } from '../../core/store.js';
import type { Connection } from './connection.js';
import { chunksOf, dataOf } from './requests.js';
import type { Head } from './schema.js';

/**
 * What one handle knows is stored, as of `token`: enough to plan a commit's writes without reading first. Good only
 * on the connection it was read through (a database deleted and made again under it starts over).
 */
export interface Known {
  readonly connection: Connection;
  readonly token: string;
  /** The head's version: how many commits that were not plain appends the queue has had. */
  readonly version: number;
  /** Key (segment, offset) of the queue's last data chunk. */
  readonly data: readonly [number, number] | undefined;
  /** Offset of the last metadata chunk. */
  readonly metaKey: number | undefined;
  /** Every segment's length. Changed in place by a commit: a commit that fails drops what the handle knew. */
  readonly lengths: Map<number, number>;
  /** The greatest segment id: the tail, whose record in `segments` may lag behind its chunks. */
  readonly tail: number | undefined;
  /** The metadata's length: an append before its end cuts what lies past. */
  readonly metaLength: number;
}

/** Chunks under this segment id hold what was appended to the metadata (segment ids are never negative). */
export const META = -1;

/**
 * The token of a stored state: the head's version and the keys of the last data and metadata chunks. A plain
 * append (a push to the tail, a take or an ack appended to the metadata) always moves one of those keys forward,
 * so it needs no write of its own to change the token; every other commit replaces the head. The same state gives
 * the same token to every handle, and no two states of a queue give the same one.
 */
export function tokenOf(version: number, data: readonly [number, number] | undefined, metaKey: number | undefined): string {
  return `${version}.${data ? data.join(':') : ''}.${metaKey ?? ''}`;
}

/**
 * True when `batch` only appends: bytes at the end of the tail (or at the start of a new segment after it) and
 * bytes at the end of the metadata. Under the writer lock such a commit is a put or two and nothing more.
 */
export function appendsOnly(known: Known, { write, meta, metaAppend, remove, quarantine }: StorageBatch): boolean {
  if (meta || remove?.length || quarantine?.length || (!write && !metaAppend)) return false;
  if (write) {
    const { segment, offset, bytes } = write;
    const atEnd = segment === known.tail ? offset === known.lengths.get(segment) : offset === 0 && (known.tail === undefined || segment > known.tail);
    if (!atEnd || bytes.length === 0) return false;
  }
  return !metaAppend || (metaAppend.offset === known.metaLength && metaAppend.bytes.length > 0);
}

/** The object stores a commit touches: each one more in a transaction's scope costs a push measurable time. */
export function scope(known: Known, batch: StorageBatch, appends: boolean): string[] {
  const { write, meta, remove = [], quarantine = [] } = batch;
  const names = appends ? ['chunks'] : ['chunks', 'heads'];
  if ((write && write.segment !== known.tail) || remove.length > 0 || quarantine.length > 0) names.push('segments');
  if (meta) names.push('meta');
  if (quarantine.length > 0) names.push('quarantine');
  return names;
}

/**
 * Issues the batch's requests in `tx`, in the contract's order, without waiting for any: the transaction can commit
 * at once unless a cut or a quarantine reads first (`reads`). `next` tells, once the transaction completed, what is
 * stored then. Unless `appends`, the head is replaced last: when another handle replaced it first (no writer lock),
 * the add breaks the head's unique index and aborts everything above.
 */
export function issue(tx: IDBTransaction, name: string, known: Known, batch: StorageBatch, appends: boolean): { reads: boolean; next: () => Known } {
  const { write, meta, metaAppend, remove = [], quarantine = [] } = batch;
  const chunks = tx.objectStore('chunks');
  const segments = () => tx.objectStore('segments');
  const lengths = known.lengths;
  let { tail, metaLength, data, metaKey } = known;
  let reads = false;
  if (write) {
    const { segment, offset, bytes } = write;
    const had = lengths.get(segment);
    // A segment started afresh drops every chunk under its id, whatever its record says: a record can be gone while
    // chunks stay (removed under the queue), and those must not be read as part of it. No read is needed for that.
    if (offset === 0 || had === undefined || had > offset) reads = cut(chunks, name, segment, offset);
    if (bytes.length > 0) chunks.put(whole(bytes), [name, segment, offset]);
    const length = offset + bytes.length;
    if (segment !== tail) {
      // A new tail seals the old one: its record gets the length that, as the tail, only its chunks told.
      if (tail !== undefined && segment > tail) segments().put({ id: tail, length: lengths.get(tail)! }, [name, tail]);
      segments().put({ id: segment, length }, [name, segment]);
    }
    lengths.set(segment, length);
    if (tail === undefined || segment > tail) tail = segment;
    data = [segment, offset];
  }
  if (meta) {
    tx.objectStore('meta').put(whole(meta), name);
    chunks.delete(chunksOf(name, META));
    metaLength = meta.length;
  }
  if (metaAppend) {
    const { offset, bytes } = metaAppend;
    if (metaLength > offset) reads = cut(chunks, name, META, offset) || reads;
    if (bytes.length > 0) chunks.put(whole(bytes), [name, META, offset]);
    metaLength = offset + bytes.length;
    metaKey = offset;
  }
  for (const id of quarantine) {
    const keys = chunks.getAllKeys(chunksOf(name, id));
    const values = chunks.getAll(chunksOf(name, id));
    values.onsuccess = () => keys.result.forEach((key, i) => tx.objectStore('quarantine').put(values.result[i], key));
    reads = true;
  }
  // Deleted after the reads above: the requests of one transaction run in the order they were made.
  for (const id of [...remove, ...quarantine]) {
    segments().delete([name, id]);
    chunks.delete(chunksOf(name, id));
    lengths.delete(id);
  }
  if (tail !== undefined && !lengths.has(tail)) {
    tail = undefined;
    for (const id of lengths.keys()) if (tail === undefined || id > tail) tail = id;
  }
  const base = { connection: known.connection, lengths, tail, metaLength };
  if (appends) return { reads, next: () => ({ ...base, version: known.version, data, metaKey, token: tokenOf(known.version, data, metaKey) }) };
  const heads = tx.objectStore('heads');
  const version = known.version + 1;
  heads.delete([name, known.version]);
  heads.add(headOf(name, version, tail, lengths), [name, version]);
  // What the token's keys are now, read after every change above (a removal or a cut can move them back).
  const lastData = chunks.openKeyCursor(dataOf(name), 'prev');
  const lastMeta = chunks.openKeyCursor(chunksOf(name, META), 'prev');
  return {
    reads,
    next: () => {
      const d = lastData.result?.primaryKey as [string, number, number] | undefined;
      const m = (lastMeta.result?.primaryKey as [string, number, number] | undefined)?.[2];
      const at: [number, number] | undefined = d && [d[1], d[2]];
      return { ...base, version, data: at, metaKey: m, token: tokenOf(version, at, m) };
    },
  };
}

/** The head of `version`, recording the newest segment and its length (see `Head.tail`). */
export function headOf(queue: string, version: number, tail: number | undefined, lengths: ReadonlyMap<number, number>): Head {
  return tail === undefined ? { queue, version } : { queue, version, tail: { id: tail, length: lengths.get(tail) ?? 0 } };
}

/**
 * Cuts a segment (or the metadata) back to `offset`: chunks past it go, and the last one starting before it, the
 * only one that can reach across, is shortened. True when that needs a read.
 */
function cut(chunks: IDBObjectStore, name: string, segment: number, offset: number): boolean {
  chunks.delete(chunksOf(name, segment, offset));
  if (offset === 0) return false;
  const cursor = chunks.openCursor(IDBKeyRange.bound([name, segment, 0], [name, segment, offset], false, true), 'prev');
  cursor.onsuccess = () => {
    const found = cursor.result;
    const at = (found?.primaryKey as [string, number, number] | undefined)?.[2] ?? 0;
    const bytes = found?.value as Uint8Array | undefined;
    if (found && bytes && at + bytes.length > offset) found.update(bytes.slice(0, offset - at));
  };
  return true;
}

/**
 * `bytes` as a value to store: a put clones it at once (so later changes to the caller's buffer do not reach the
 * store), but a view clones its whole buffer, so a view on part of one is copied out first.
 */
function whole(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : copyBytes(bytes);
}
