import type { Cluster, Redis } from 'ioredis';
import { messageOf } from '../../core/errors.js';
import type { SegmentInfo } from '../../core/store.js';
import { REFUSED } from './attempt.js';
import { primaries } from './durability.js';
import type { QueueKeys } from './keys.js';
import { INITIAL_TOKEN, type ScriptedClient } from './scripts.js';

/**
 * The load script's reply for the queue `keys` name (see LOAD in scripts.ts). A queue with a history always lists a
 * segment (a drained one keeps its empty tail): one whose list and metadata are both gone is looked for by a SCAN of
 * its segment keys, which are listed again (or, none left, the queue reads as deleted), and loaded again. So is one
 * whose token went with them, when the caller `knew` it had a history. With `merge` (a commit found a segment the
 * list does not name, or is about to create the queue where keys are evicted), every segment found that the list
 * lacks is added to it. The SCAN costs a walk of the keyspace, so it is made only then (and commits wait for it, see
 * COMMIT).
 */
export async function loadListing(client: Redis | Cluster, scripts: ScriptedClient, keys: QueueKeys, knew: boolean, merge: boolean): Promise<Buffer[]> {
  const { version, meta, lengths, segmentPrefix } = keys;
  const reply = await scripts.sluiceLoad4Buffer('4', version, meta, lengths, segmentPrefix);
  const token = reply[0]!.toString();
  if (!merge && ((token === INITIAL_TOKEN && !knew) || reply[2]!.toString() === '1' || reply.length > 4)) return reply;
  // A client's own keyPrefix, which ioredis puts before every key it is given, but neither in a SCAN's pattern nor
  // out of the keys it finds.
  const prefix = `${(client.options as { keyPrefix?: string }).keyPrefix ?? ''}${segmentPrefix}`;
  let found: string[];
  try {
    found = await keysStarting(client, prefix);
  } catch (error) {
    // A user without SCAN (or SCAN renamed away), where keys are evicted: a queue about to be created is looked for no
    // further (as `relist` does); else every load looked again, and was refused, for good. A lost list fails the load.
    if (merge && REFUSED.test(messageOf(error))) return reply;
    throw error;
  }
  const ids = found.map((key) => key.slice(prefix.length)).filter((id) => /^\d+$/.test(id));
  await scripts.sluiceRelist3(String(3 + ids.length), version, meta, lengths, ...ids.map((id) => keys.segment(Number(id))), token, merge ? 'merge' : '', ...ids);
  return scripts.sluiceLoad4Buffer('4', version, meta, lengths, segmentPrefix);
}

/** The keys that start with `prefix`, on whichever primary holds them. */
async function keysStarting(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const found: string[] = [];
  for (const node of primaries(client)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return found;
}

/** The segments a load's reply lists, in order, and the newest as the last commit that wrote it left it. */
export function segmentsOf(reply: readonly Buffer[]): { segments: SegmentInfo[]; tail: SegmentInfo | undefined } {
  const segments: SegmentInfo[] = [];
  let tail: SegmentInfo | undefined;
  for (let i = 4; i + 2 < reply.length; i += 3) {
    const id = Number(reply[i]!.toString());
    segments.push({ id, length: Number(reply[i + 2]!.toString()) });
    // A shorter string (or none) than the last commit left lost bytes under the queue (deleted, evicted, cut), which
    // the core reports instead of taking it for a race with a commit.
    if (!tail || id > tail.id) tail = { id, length: Number(reply[i + 1]!.toString()) };
  }
  segments.sort((a, b) => a.id - b.id);
  return { segments, tail };
}
