// What the large-body tests share: bytes that show a shifted or repeated chunk, and the blobs a queue holds.
import { Queue } from '../../src/core/queue.js';
import type { Rig } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

export const MiB = 1024 * 1024;

/** Bytes that differ from one position to the next, so that a shifted or repeated chunk shows. */
export const bytes = (length: number, seed = 1): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed + (i >> 8)) & 0xff;
  return out;
};

export const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** The blobs the rig's outbox queue holds now, read through a handle of its own. */
export async function blobKeys(r: Rig): Promise<string[]> {
  const queue = await Queue.open({ ...outboxQueue, name: 'api', store: r.store, clock: r.clock });
  try {
    return await queue.blobs!.keys();
  } finally {
    await queue.close();
  }
}
