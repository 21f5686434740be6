import type { Cluster, Redis } from 'ioredis';
import { primaries } from './durability.js';
import type { QueueKeys } from './keys.js';
import { INITIAL_TOKEN, type ScriptedClient } from './scripts.js';

/**
 * The load script's reply for the queue `keys` name (see LOAD in scripts.ts). A queue with a history always lists a
 * segment (a drained one keeps its empty tail): one whose list and metadata are both gone is looked for by a SCAN of
 * its segment keys, which are listed again (or, none left, the queue reads as deleted), and loaded again. The SCAN
 * costs a walk of the keyspace, so it is made only then.
 */
export async function loadListing(client: Redis | Cluster, scripts: ScriptedClient, keys: QueueKeys): Promise<Buffer[]> {
  const { version, meta, lengths, segmentPrefix } = keys;
  const reply = await scripts.sluiceLoad2Buffer('4', version, meta, lengths, segmentPrefix);
  const token = reply[0]!.toString();
  if (token === INITIAL_TOKEN || reply[2]!.toString() === '1' || reply.length > 4) return reply;
  const found = await segmentKeys(client, segmentPrefix);
  const ids = found.map((key) => key.slice(segmentPrefix.length)).filter((id) => /^\d+$/.test(id));
  await scripts.sluiceRelist1(String(3 + ids.length), version, meta, lengths, ...ids.map((id) => keys.segment(Number(id))), token, ...ids);
  return scripts.sluiceLoad2Buffer('4', version, meta, lengths, segmentPrefix);
}

/** The keys that start with `prefix`, on whichever primary holds them. */
async function segmentKeys(client: Redis | Cluster, prefix: string): Promise<string[]> {
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
