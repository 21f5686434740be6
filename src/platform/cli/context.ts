import { MetaLog } from '../../core/meta-log.js';
import { OUTBOX_QUEUE } from '../../core/options.js';
import { partitionName } from '../../core/partitioned.js';
import { QueueState } from '../../core/queue-state.js';
import { Queue } from '../../core/queue.js';
import type { Store } from '../../core/store.js';
import { FileStore } from '../../stores/fs/file-store.js';
import { DamageReport, settled } from './damage.js';
import type { CliIo } from './io.js';
import { lenientCodec } from './values.js';

/** What every command works with. */
export interface Context {
  readonly io: CliIo;
  readonly json: boolean;
  /** The FileStore directory, as given. */
  readonly dir: string;
  /** Opens existing queues only: the CLI never creates a queue or a directory, whatever the command. */
  readonly store: FileStore;
  readonly now: () => number;
  /** The queues' `corruption` option (`--corruption`). */
  readonly corruption: 'throw' | 'skip';
  /** `--accept-repairs`: damage found is reported, and the command goes on and exits 0. */
  readonly acceptRepairs: boolean;
  /** `--ordering`: the outbox's, as the app opens it; undefined: the Outbox's default. */
  readonly ordering: 'group' | 'fifo' | 'none' | undefined;
  /** Says every repair and loss of every queue opened. */
  readonly damage: DamageReport;
  /**
   * What the command changed, as its last line says it ("Removed 30 entries from q."): said with the error too when
   * that line cannot be written (stdout full or closed), since exit 1 would otherwise read as "nothing changed".
   */
  changed?: string;
}

export interface ContextOptions {
  readonly dir: string;
  readonly mode?: number;
  readonly ordering?: 'group' | 'fifo' | 'none';
  readonly json: boolean;
  readonly corruption: 'throw' | 'skip';
  readonly acceptRepairs: boolean;
}

export function context(io: CliIo, o: ContextOptions): Context {
  const { dir, json, corruption, acceptRepairs, mode, ordering } = o;
  const store = new FileStore({ dir, create: false, ...(mode !== undefined && { mode }) });
  return { io, json, dir, corruption, acceptRepairs, ordering, store, now: io.now ?? Date.now, damage: new DamageReport(io, json) };
}

/**
 * Runs `fn` on the queue `name` ('ERR_NOT_FOUND' when there is none), and closes it. Opening repairs what it finds
 * (the core has no open that only looks): every repair is reported before `fn` runs, and what reads find later too.
 * Items that are not JSON (a queue with a codec of its own) are read as `Undecoded` bytes.
 */
export async function withQueue<R>(ctx: Context, name: string, fn: (queue: Queue<unknown>) => Promise<R>): Promise<R> {
  const partitions = await partitionsOf(ctx.store, name);
  // 'strict' whatever the app's: what the CLI changes (a clear, a drain's acks, a repair) is on the disk before it says
  // so, as a 'strict' app's own changes are; a one-off command spends milliseconds on it.
  // An outbox's queues too, as they are (see `notAnOutboxs`).
  const queue = await Queue.open<unknown>({ name, store: ctx.store, partitions, corruption: ctx.corruption, codec: lenientCodec(), durability: 'strict', ...{ [OUTBOX_QUEUE]: true } });
  ctx.damage.watch(queue);
  let failed = false;
  try {
    await settled();
    return await fn(queue);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // A close that fails after `fn` did (a full disk refuses the release of leases too) must not hide what `fn` said
    // (a drain's error says what it drained, and that its last batch was not acked).
    await queue.close().catch((error: unknown) => {
      if (!failed) throw error;
    });
    await settled();
  }
}

/**
 * Whether a command may go on to change items (take, ack, remove, retry): not when opening found damage that the user
 * has not seen yet, unless `--accept-repairs`; then `nothing` says what was not done. The repair is stored either way,
 * so a run that knows of it goes on.
 */
export function mayChange(ctx: Context, nothing: string): boolean {
  const damaged = ctx.damage.queues;
  if (ctx.acceptRepairs || damaged.length === 0) return true;
  ctx.damage.notice(`${nothing}: ${damaged.join(', ')} needed repair (above). The repair is stored: run the command again to go on, or pass --accept-repairs.`);
  return false;
}

/**
 * How many partitions the queue `name` was made with, as its first partition records it: the CLI opens queues it did
 * not make, and another count would be refused (or, for an empty queue, recorded in its place).
 */
export async function partitionsOf(store: Store, name: string): Promise<number> {
  const first = await recordedIn(store, name);
  // Nothing recorded is a queue of one partition.
  if (first !== 0) return first ?? 1;
  // The record was lost with the first partition's metadata: the second has it, where there is one.
  const second = partitionName(name, 1);
  if (store.exists && !(await store.exists(second))) return 1;
  return Math.max(1, (await recordedIn(store, second)) ?? 1);
}

/**
 * The partition count that the storage `name` records (see `QueueState.partitions`): undefined when nothing is
 * recorded, 0 when the record may have been lost with its metadata (removed, unreadable or damaged).
 */
async function recordedIn(store: Store, name: string): Promise<number | undefined> {
  const storage = await store.open(name);
  try {
    const { meta } = await storage.load();
    const read = new MetaLog().read(meta, new QueueState(), Date.now());
    return read.state.partitions ?? (meta === undefined || read.unreadable || read.damaged ? 0 : undefined);
  } finally {
    await storage.close();
  }
}
