import { chunksOf, dataOf, result } from './requests.js';
import type { Head } from './schema.js';
import { META, tokenOf } from './writes.js';

/** A chunk's key: the byte offset is last (`[queue, segment, offset]`, or `[queue, blob key, offset]`). */
type ChunkKey = [string, number | string, number];

/**
 * How far a segment's chunks (keys and values, in key order) reach from its start (or from `from`, where the first
 * of them begins) without a gap. Commits leave none between them; a gap is chunks removed under the queue, and what
 * lies past it is not where its offsets say: read as if it were, its frames would be taken for the items lost.
 */
export function reach(keys: readonly IDBValidKey[], chunks: readonly Uint8Array[], from = 0): number {
  let reached = from;
  for (let i = 0; i < chunks.length && (keys[i] as ChunkKey)[2] <= reached; i++) reached = Math.max(reached, (keys[i] as ChunkKey)[2] + chunks[i]!.length);
  return reached;
}

/** Bytes `[start, end)` of a segment (or a blob) from its chunks, up to the first gap after `from` (see `reach`). */
export function assemble(keys: readonly IDBValidKey[], chunks: readonly Uint8Array[], start: number, end: number, from = 0): Uint8Array {
  const stop = Math.min(end, reach(keys, chunks, from));
  const out = new Uint8Array(Math.max(0, stop - start));
  chunks.forEach((chunk, i) => {
    const at = (keys[i] as ChunkKey)[2];
    const lo = Math.max(start, at);
    const hi = Math.min(stop, at + chunk.length);
    if (hi > lo) out.set(chunk.subarray(lo - at, hi - at), lo - start);
  });
  return out;
}

/** The keys and values of one segment's chunks, read in `tx`. */
export function chunksIn(tx: IDBTransaction, name: string, segment: number): Promise<[IDBValidKey[], Uint8Array[]]> {
  const chunks = tx.objectStore('chunks');
  return Promise.all([result(chunks.getAllKeys(chunksOf(name, segment))), result<Uint8Array[]>(chunks.getAll(chunksOf(name, segment)))]);
}

/**
 * What makes the token (see `tokenOf`), read in `tx`: the head's version and the keys of the last data chunk (that
 * chunk itself too, `withValue`, for the tail's length) and of the last metadata chunk.
 */
export async function stamped(tx: IDBTransaction, name: string, withValue: boolean) {
  const chunks = tx.objectStore('chunks');
  const [head, last, lastMeta] = await Promise.all([
    result<Head | undefined>(tx.objectStore('heads').index('queue').get(name)),
    result((withValue ? chunks.openCursor(dataOf(name), 'prev') : chunks.openKeyCursor(dataOf(name), 'prev')) as IDBRequest<IDBCursor | null>),
    result(chunks.openKeyCursor(chunksOf(name, META), 'prev')),
  ]);
  const key = last?.primaryKey as ChunkKey | undefined;
  const data: [number, number] | undefined = key && [key[1] as number, key[2]];
  const version = head?.version ?? 0;
  const metaKey = (lastMeta?.primaryKey as ChunkKey | undefined)?.[2];
  return { version, data, metaKey, token: tokenOf(version, data, metaKey), last, recorded: head?.tail };
}
