import type { Lease, LeaseEntry } from '../core/queue-types.js';
import type { AckBatcher } from './ack-batcher.js';
import type { Coordination } from './coordination.js';
import type { DeadReason } from './dead-letters.js';
import type { OutboxEventMap, RetryDetail, SentDetail } from './events.js';
import type { ResolvedOutboxOptions } from './options.js';
import type { Pending, PendingIndex } from './pending.js';
import type { Reachability } from './reachability.js';
import { discard, send } from './send.js';
import { normaliseTask, publicTask, type StoredTask } from './task.js';
import { verdictFor } from './verdict.js';

export type Entry = LeaseEntry<StoredTask>;

/** Counts of one delivery run (a `flush`, or the background loop). */
export interface DeliveryRun {
  sent: number;
  retried: number;
  dead: number;
  /** A flush tries each task at most once: those it retried wait here, parked, until it ends. */
  readonly parked: Set<Pending> | undefined;
}

/** A task on its way to dead: its entry (id '' when it was never stored) and why. */
export interface ToDead {
  readonly entry: { readonly id: string; readonly value: StoredTask; readonly attempts: number };
  readonly reason: DeadReason;
  readonly status?: number;
  readonly error?: string;
}

/** What delivering needs of the outbox. */
export interface DeliveryContext {
  readonly options: ResolvedOutboxOptions;
  readonly index: PendingIndex;
  readonly reachability: Reachability;
  readonly coordination: Coordination;
  readonly acks: AckBatcher;
  readonly transport: () => typeof fetch;
  /** Dispatches `type` on the outbox (a CustomEvent with `detail`). */
  readonly emit: (type: keyof OutboxEventMap, detail?: unknown) => void;
  /** Moves tasks to dead (into dead letters first, then out of the outbox). */
  readonly toDead: (list: readonly ToDead[], lease: Lease<StoredTask> | undefined, run: DeliveryRun) => Promise<void>;
  /** Puts taken entries back, as if never taken. */
  readonly giveBack: (entries: Entry[], lease: Lease<StoredTask>) => Promise<void>;
  /** A task was delivered: the network is there. */
  readonly delivered: () => void;
}

/** Tasks a response showed delivered: acked together at the end of their unit, then told. */
interface Delivered {
  readonly ids: readonly string[];
  /** Says 'sent' for them, once their ack is committed. */
  readonly tell: () => void;
  /** Frees the response, after the listeners had it. */
  readonly free: () => Promise<void>;
}

/**
 * Delivers one unit of taken tasks: a batch (one request), or a chain of one lane's tasks in queue order, each
 * request starting once the previous one's response was judged sent. A chain stops at the first task that is not
 * sent; the rest go back, so the lane's order holds across the retry. What was sent is acked in one commit at the
 * end, then said in 'sent' events: a crash before that sends those tasks again, with the same Idempotency-Key.
 */
export async function deliver(c: DeliveryContext, unit: Entry[], lease: Lease<StoredTask>, run: DeliveryRun, freeSlot: () => void): Promise<void> {
  const delivered: Delivered[] = [];
  try {
    const requests = c.options.batch ? [unit] : unit.map((e) => [e]);
    for (let i = 0; i < requests.length; i++) {
      // A request that could outlast the lease is not started: another handle could take the task meanwhile.
      const late = i > 0 && c.options.clock.now() + c.options.timeoutMs >= lease.expiresAt;
      if (late || !(await attempt(c, requests[i]!, lease, run, delivered))) {
        await c.giveBack(requests.slice(late ? i : i + 1).flat(), lease);
        break;
      }
    }
  } catch (error) {
    // A storage failure mid-settle: the lease expires and the task is tried again, never lost.
    c.emit('error', { error });
  } finally {
    freeSlot();
    try {
      if (delivered.length > 0) await c.acks.add(delivered.flatMap((d) => d.ids));
      for (const d of delivered) d.tell();
    } catch (error) {
      c.emit('error', { error });
    } finally {
      for (const d of delivered) await d.free();
    }
  }
}

/** One request: expired or skipped tasks go to dead first, the rest are sent and settled. True when all were sent. */
async function attempt(c: DeliveryContext, entries: Entry[], lease: Lease<StoredTask>, run: DeliveryRun, delivered: Delivered[]): Promise<boolean> {
  const { options } = c;
  const now = options.clock.now();
  const doomed: ToDead[] = [];
  const ready: { entry: Entry; task: StoredTask }[] = [];
  // Expiry is decided before the send, never during it.
  for (const entry of entries) {
    const task = entry.value;
    if (task.expiresAt !== undefined && task.expiresAt <= now) doomed.push({ entry, reason: 'expired' });
    else if (!options.onBeforeSend) ready.push({ entry, task });
    else {
      const edited = await beforeSend(c, entry);
      if ('reason' in edited) doomed.push(edited);
      else ready.push({ entry, task: edited.task });
    }
  }
  await c.toDead(doomed, lease, run);
  if (ready.length === 0) return true;
  const tasks = ready.map((r) => r.task);
  const { outcome, reachable } = await send(tasks, {
    fetch: c.transport(),
    clock: options.clock,
    timeoutMs: options.timeoutMs,
    headers: options.headers,
    batchUrl: options.batchUrl,
  });
  if (reachable !== undefined) c.reachability.saw(reachable);
  return settle(c, ready, outcome, lease, run, delivered);
}

async function beforeSend(c: DeliveryContext, entry: Entry): Promise<{ task: StoredTask } | ToDead> {
  const stored = entry.value;
  const edited = await c.options.onBeforeSend!(publicTask(stored));
  if (edited === false) return { entry, reason: 'skipped' };
  try {
    // The id (the Idempotency-Key) and the age stay the task's own, whatever the hook returns.
    return { task: normaliseTask({ ...edited, id: stored.id }, c.options.baseUrl, stored.createdAt) };
  } catch (error) {
    return { entry, reason: 'invalid', error: error instanceof Error ? error.message : String(error) };
  }
}

/** Applies the verdict on `outcome`: acked (in the background, into `acks`), released with a delay, or dead. */
async function settle(
  c: DeliveryContext,
  ready: readonly { entry: Entry; task: StoredTask }[],
  outcome: Response | Error,
  lease: Lease<StoredTask>,
  run: DeliveryRun,
  delivered: Delivered[],
): Promise<boolean> {
  const { options, index } = c;
  const entries = ready.map((r) => r.entry);
  const ids = entries.map((e) => e.id);
  const status = outcome instanceof Error ? undefined : outcome.status;
  const error = outcome instanceof Error ? outcome.message : undefined;
  const extra = { ...(status !== undefined && { status }), ...(error !== undefined && { error }) };
  const now = options.clock.now();
  const views = ready.map((r) => publicTask(r.task));
  const verdict = verdictFor(outcome, views[0]!, options, {
    attempts: Math.max(...entries.map((e) => e.attempts)),
    createdAt: Math.min(...entries.map((e) => e.value.createdAt)),
    now,
  });
  const done = async () => {
    if (!(outcome instanceof Error)) await discard(outcome);
  };
  if (verdict.kind === 'sent') {
    run.sent += ready.length;
    c.delivered();
    delivered.push({
      ids,
      tell: () =>
        ready.forEach(({ entry }, i) => {
          const pending = index.get(Number(entry.id));
          if (pending) index.remove(pending);
          const detail: SentDetail = { task: views[i]!, status: status ?? 0, attempts: entry.attempts };
          c.emit('sent', outcome instanceof Error ? detail : { ...detail, response: outcome });
          c.coordination.post({ type: 'sent', detail });
        }),
      free: done,
    });
    return true;
  }
  try {
    if (verdict.kind === 'dead') {
      await c.toDead(entries.map((entry) => ({ entry, reason: verdict.reason, ...extra })), lease, run);
      // Out of its lane: the next task of a chain may go.
      return true;
    }
    await retry(c, ready, verdict, extra, lease, run, now);
    return false;
  } finally {
    await done();
  }
}

async function retry(
  c: DeliveryContext,
  ready: readonly { entry: Entry; task: StoredTask }[],
  { delayMs, cause }: { readonly delayMs: number; readonly cause: 'network' | 'server' },
  extra: { readonly status?: number; readonly error?: string },
  lease: Lease<StoredTask>,
  run: DeliveryRun,
  now: number,
): Promise<void> {
  const { index } = c;
  await lease.release(ready.map((r) => r.entry.id), { delayMs });
  run.retried += ready.length;
  for (const { entry, task } of ready) {
    const pending = index.get(Number(entry.id));
    if (pending) {
      pending.last = extra;
      index.wait(pending, now + delayMs, cause);
      if (run.parked) {
        index.park(pending);
        run.parked.add(pending);
      }
    }
    const detail: RetryDetail = { task: publicTask(task), attempts: entry.attempts, delayMs, ...extra };
    c.emit('retry', detail);
  }
}
