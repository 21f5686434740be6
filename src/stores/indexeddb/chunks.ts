type ChunkKey = [string, number, number];

/**
 * How far a segment's chunks (keys and values, in key order) reach from its start without a gap. Commits leave none
 * between them; a gap is chunks removed under the queue, and what lies past it is not where its offsets say: read as
 * if it were, its frames would be taken for the items lost.
 */
export function reach(keys: readonly IDBValidKey[], chunks: readonly Uint8Array[]): number {
  let reached = 0;
  for (let i = 0; i < chunks.length && (keys[i] as ChunkKey)[2] <= reached; i++) reached = Math.max(reached, (keys[i] as ChunkKey)[2] + chunks[i]!.length);
  return reached;
}

/** Bytes `[start, end)` of a segment from its chunks, up to the first gap (see `reach`). */
export function assemble(keys: readonly IDBValidKey[], chunks: readonly Uint8Array[], start: number, end: number): Uint8Array {
  const stop = Math.min(end, reach(keys, chunks));
  const out = new Uint8Array(Math.max(0, stop - start));
  chunks.forEach((chunk, i) => {
    const at = (keys[i] as ChunkKey)[2];
    const from = Math.max(start, at);
    const to = Math.min(stop, at + chunk.length);
    if (to > from) out.set(chunk.subarray(from - at, to - at), from - start);
  });
  return out;
}
