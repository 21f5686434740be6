import type { Cluster } from 'ioredis';
import { SluiceError } from '../../core/errors.js';
import { REFUSED } from './attempt.js';
import type { StoreContext } from './queue-storage.js';
import { COMMITS } from './scripts.js';

type CommitScript = keyof typeof COMMITS;

/** What the WAIT behind a strict write answered: how many replicas confirmed it, and why none did where it was refused. */
export interface Confirmed {
  readonly acked: number;
  readonly refused?: Error;
}

/** A commit's reply: the script's token, and what confirmed it. */
export interface CommitReply extends Confirmed {
  readonly token: string;
}

/**
 * What the WAIT behind a write answered (its pipeline reply). Refused (an ACL user without it): no replica confirmed
 * the write, which ran all the same, and a bare refusal would read as a write that did not. Any other failure (a lost
 * connection) is thrown, for the write to be tried again.
 */
export function confirmed(reply: [Error | null, unknown] | undefined): Confirmed {
  const error = reply?.[0];
  if (error && REFUSED.test(error.message)) return { acked: 0, refused: error };
  if (error) throw error;
  return { acked: Number(reply?.[1]) };
}

/** The rejection of a strict write (`what`) that too few replicas confirmed: it is on the primary all the same. */
export function unconfirmed(what: string, wait: number, timeoutMs: number, { acked, refused }: Confirmed, after = ''): SluiceError {
  const why = refused ? ` (its WAIT was refused: ${refused.message})` : '';
  return new SluiceError('ERR_STORAGE', `${what} is on the Redis primary but only ${acked} of ${wait} replicas confirmed it within ${timeoutMs} ms${why}, so durability 'strict' is not met${after}.`, { cause: refused });
}

/**
 * How long a commit's token is kept as its handle's last, at least: longer than any replay of it can arrive. A call
 * retries for up to `retryMs`, so the token is kept for twice that when it is longer (see `lastCommitTtlMs`).
 */
const LAST_COMMIT_TTL_MS = 600_000;

/** How long `c:<owner>` keeps a commit's token: a replay arrives within retryMs of the first send, at the latest. */
export function lastCommitTtlMs(retryMs: number): number {
  return Math.max(LAST_COMMIT_TTL_MS, 2 * retryMs);
}

/**
 * Runs the commit script on `args` (`keyCount` keys first), then, for a 'strict' commit, WAITs for `wait` replicas.
 * Refused at maxmemory, a commit that may run full (`whenFull`) runs again as the script Redis lets run then.
 * Resolves the script's reply and how many replicas confirmed it.
 */
export function runCommit(context: StoreContext, keyCount: number, args: readonly (string | Buffer)[], wait: number, whenFull: boolean): Promise<CommitReply> {
  return runFull(context, keyCount, args, wait, whenFull).catch((error: unknown) => (cut(error) ? { token: '', acked: 0 } : Promise.reject(error)));
}

/**
 * The script refused to write past the end of the segment: it is shorter than this handle read it (deleted, evicted or
 * cut under the queue). Answered as a lost race ('' : nothing written), so that the handle reads the queue again and
 * its recovery reports what is lost, as a `corrupt` event or ERR_CORRUPT, rather than a bare ERR_STORAGE.
 */
function cut(error: unknown): boolean {
  return /^ERR sluice: write at \d+ past the end/.test(String((error as Error)?.message));
}

async function runFull(context: StoreContext, keyCount: number, args: readonly (string | Buffer)[], wait: number, whenFull: boolean): Promise<CommitReply> {
  try {
    return await run(context, 'sluiceCommit6', keyCount, args, wait);
  } catch (error) {
    // At maxmemory, a commit that adds no segment bytes runs anyway: acks must be able to free a full Redis; so does
    // a dead letter's (see `OpenHints`). The refused run wrote nothing (Redis refuses a script's first write), so the
    // same token may run again.
    if (!whenFull || !/\bOOM\b/.test(String((error as Error)?.message))) throw error;
    return run(context, 'sluiceCommitWhenFull6', keyCount, args, wait);
  }
}

async function run(context: StoreContext, script: CommitScript, keyCount: number, args: readonly (string | Buffer)[], wait: number): Promise<CommitReply> {
  const { client, scripts, options } = context;
  if (wait === 0) return { token: await scripts[script](String(keyCount), ...args), acked: 0 };
  // WAIT right behind the script, on the same connection (a Cluster routes the pipeline by the queue's slot). A
  // script the server lost is refused (NOSCRIPT) without running: the pipeline goes again with its text.
  const { lua, sha } = COMMITS[script];
  let replies = await client.pipeline().evalsha(sha, keyCount, ...args).wait(wait, options.replicaTimeoutMs).exec();
  if (/^NOSCRIPT/.test(String(replies?.[0]?.[0]?.message))) replies = await client.pipeline().eval(lua, keyCount, ...args).wait(wait, options.replicaTimeoutMs).exec();
  const [ran, waited] = replies ?? [];
  const error = ran?.[0];
  // Moved by a failover: the slot map is read again before the next try (see PASSING in attempt.ts).
  if (error && client.isCluster && /^(MOVED|ASK)\b/.test(error.message)) await new Promise<void>((resolve) => (client as Cluster).refreshSlotsCache(() => resolve()));
  if (error) throw error;
  return { token: String(ran?.[1]), ...confirmed(waited) };
}
