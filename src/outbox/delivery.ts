import { monotonic } from '../core/clock.js';
import { inDoubt } from '../core/part-lease.js';
import type { Lease, LeaseEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { AckBatcher } from './ack-batcher.js';
import { acknowledge, holdUntilExpiry } from './acknowledge.js';
import type { BatchFit } from './batch-fit.js';
import type { Coordination } from './coordination.js';
import type { CorsChecks } from './cors.js';
import { Deadline, isTimeout } from './deadline.js';
import type { DeadReason } from './dead-letters.js';
import type { OutboxEventMap } from './events.js';
import type { ResolvedOutboxOptions, Transport } from './options.js';
import type { BodyStore } from './body-store.js';
import type { Pending, PendingIndex } from './pending.js';
import { originOf } from './pending-task.js';
import type { Reachability } from './reachability.js';
import { unrecalled } from './recall.js';
import { batchable, keepingJson } from './request.js';
import { addedValues, errorText } from './scrub.js';
import { send, type Exchange } from './send.js';
import { settle, type Delivered } from './settle.js';
import { normaliseTask, publicTask, type StoredTask } from './task.js';
import { messageOf } from '../core/errors.js';

export type Entry = LeaseEntry<StoredTask>;

/** Counts of one delivery run (a `flush`, or the background loop). */
export interface DeliveryRun {
  sent: number;
  retried: number;
  dead: number;
  handedOver: number;
  /** A flush tries each task at most once: those it retried wait here, parked, until it ends. */
  readonly parked: Set<Pending> | undefined;
  /** The flush has returned: nothing more starts for it (what was taken ahead for it goes back). */
  over: boolean;
  /** The flushes running, which count what this run does too (see `tally`); none for work that is no delivery's. */
  readonly flushes?: ReadonlySet<DeliveryRun>;
}

/** A task on its way to dead: its entry (id '' when it was never stored) and why. */
export interface ToDead {
  readonly entry: { readonly id: string; readonly value: StoredTask; readonly attempts: number };
  readonly reason: DeadReason;
  readonly status?: number;
  readonly error?: string;
  readonly location?: string;
  /** Taken without a request made for it (expired, skipped): given back untried should its burial fail. */
  readonly untried?: true;
}

/** What delivering needs of the outbox. */
export interface DeliveryContext {
  readonly options: ResolvedOutboxOptions;
  readonly index: PendingIndex;
  /** Read to learn where tasks are that another handle took back (see `acknowledge`). */
  readonly queue: Pick<Queue<StoredTask>, 'list'>;
  /** Request bodies stored beside their tasks. */
  readonly bodies: BodyStore;
  readonly reachability: Reachability;
  readonly coordination: Coordination;
  /** Where there is a page's or worker's origin: tells a CORS refusal from a network error (see `CorsChecks`). */
  readonly cors: CorsChecks | undefined;
  readonly acks: AckBatcher;
  /** With `batch`, how large this handle makes batches (lowered by a server's 413). */
  readonly batchFit: BatchFit | undefined;
  readonly transport: () => Transport;
  /** Dispatches `type` on the outbox (a CustomEvent with `detail`, or with what `shown` makes of it, made only if heard). */
  readonly emit: (type: keyof OutboxEventMap, detail?: unknown, shown?: (detail: never) => unknown) => void;
  /** Moves tasks to dead (into dead letters first, then out of the outbox). */
  readonly toDead: (list: readonly ToDead[], lease: Lease<StoredTask> | undefined, run: DeliveryRun) => Promise<void>;
  /** Puts taken entries back, as if never taken. */
  readonly giveBack: (entries: Entry[], lease: Lease<StoredTask>) => Promise<void>;
  /** A task was delivered to `origin` (undefined: a batch): the network is there, and that origin. */
  readonly delivered: (origin: string | undefined) => void;
  /** The wall clock's time for a wait that starts now (see `DispatcherContext.waitsFrom`). */
  readonly waitsFrom: () => number;
  /** Something may go now that could not before (a held task acked after all): delivery looks again. */
  readonly kick: () => void;
  /** True when a chain should stop before `next`: its run was stopped, its host asked for a wait, or a higher priority task waits for its slot. */
  readonly yields: (next: Entry, run: DeliveryRun) => boolean;
}

/**
 * Delivers one unit of taken tasks: a batch (one request), or a chain of one lane's tasks in queue order, each request
 * starting once the previous one's response was judged sent. A chain stops at the first task that is not sent, and
 * before a request that could outlast the lease, that its stopped run would make, or that would keep a task of a higher
 * priority waiting for the slot; the rest go back, so the lane's order holds across the retry. What each response sent
 * is acked as the chain goes on (in groups, see `AckBatcher`), then said in 'sent' events: a crash before that sends
 * those tasks again, with the same Idempotency-Key. `freeSlot` is called once the last response is in, with whether the
 * lane goes on (every task of the unit left it), so that the lane's next chain may start while the last acks commit
 * (with `onBeforeSend`, once they are told).
 */
export async function deliver(c: DeliveryContext, unit: Entry[], lease: Lease<StoredTask>, run: DeliveryRun, freeSlot: (goesOn: boolean) => void): Promise<void> {
  const delivered: Delivered[] = [];
  const acking: Promise<boolean>[] = [];
  let goesOn = false;
  const requests = c.options.batch ? [unit] : unit.map((e) => [e]);
  // `onBeforeSend` may build a task from what the one before it in its group got (a 'sent' listener keeps it): each
  // task's 'sent' is told before the next of its lane is built, at the cost of an ack commit per task.
  const told = c.options.onBeforeSend !== undefined && !c.options.batch;
  let i = 0;
  try {
    for (; i < requests.length; i++) {
      // The ack of the task before failed: it is not told sent, and the next of its lane must not be built before it is.
      if (told && acking.length > 0 && !(await acked(c, acking))) {
        await c.giveBack(requests.slice(i).flat(), lease);
        break;
      }
      // Those `recall` took back are passed over once gone (removed, replaced, evicted); still pending, they stop the chain.
      const request = unrecalled(requests[i]!, lease);
      const recalledHere = request.length < requests[i]!.length && requests[i]!.some((e) => !request.includes(e) && c.index.get(Number(e.id)));
      // Fresh from a take, a lease outlasts the request: only the store's doubt (see `outlasts`) may cut it at once.
      const cut = recalledHere || (i > 0 ? outlasts(c.options, lease) || c.yields(requests[i]![0]!, run) : inDoubt(lease));
      const went = cut ? false : await attempt(c, request, lease, run, delivered);
      if (!went) {
        await c.giveBack(requests.slice(cut ? i : i + 1).flat(), lease);
        break;
      }
      // A batch refused as too large: its halves are the chain's next requests, in order (a group's too).
      if (went !== true) requests.splice(i + 1, 0, ...went);
      // Not at the end of the chain: a long chain holds back neither its acks nor its events.
      if (delivered.length > 0) acking.push(acknowledge(c, delivered.splice(0), lease));
    }
    goesOn = i === requests.length;
  } catch (error) {
    // A storage failure mid-settle. What the chain had not reached goes back untried at once; a task the failure left
    // held (a burial fails by giving its tasks back, see `moveToDead`) is tried again once the lease expires, never
    // lost, and until then this handle's index has it wait for that, instead of holding it (and its lane) for good.
    c.emit('error', { error });
    await c.giveBack(requests.slice(i + 1).flat(), lease).catch(() => undefined);
    holdUntilExpiry(c, unrecalled(unit, lease).map((entry) => entry.id), lease);
  } finally {
    if (delivered.length > 0) acking.push(acknowledge(c, delivered.splice(0), lease));
    // The lane's next chain starts once the slot is free.
    if (told && acking.length > 0) await acked(c, acking);
    freeSlot(goesOn);
    // Mostly one ack (a unit of one task): awaited as it is, without the promises `Promise.all` makes.
    if (acking.length === 1) await acking[0];
    else if (acking.length > 1) await Promise.all(acking);
  }
}

/** Commits the acks held back now and waits until they are told (`acking` emptied); false when one failed. */
async function acked(c: DeliveryContext, acking: Promise<boolean>[]): Promise<boolean> {
  c.acks.release();
  return (await Promise.all(acking.splice(0))).every(Boolean);
}

/**
 * Whether a request started now could outlast `lease` (it may take `timeoutMs`): another handle could take its tasks
 * once the lease ends, and send them while this one's request is out. Or whether the store doubts it still holds them
 * (a process stopped past its heartbeat's life, which others may have taken for gone): they may be sent already.
 */
export function outlasts(options: Pick<ResolvedOutboxOptions, 'clock' | 'timeoutMs'>, lease: Lease<unknown>): boolean {
  return options.clock.now() + options.timeoutMs >= lease.expiresAt || inDoubt(lease);
}

/**
 * One request, within one `Deadline` from the first hook to the last byte of the response: expired tasks go to dead
 * first (expiry is decided before a send, never during it), `onBeforeSend` edits or skips the rest, then they are
 * sent and settled. True when the lane may go on (all sent, or out of it); for a batch the server refused as too
 * large, the halves its tasks go again in.
 */
async function attempt(c: DeliveryContext, entries: Entry[], lease: Lease<StoredTask>, run: DeliveryRun, delivered: Delivered[]): Promise<boolean | Entry[][]> {
  const { options } = c;
  const deadline = new Deadline(options.clock, options.timeoutMs);
  const started = c.reachability.seen;
  // In flight from here: no longer theirs to `recall`.
  for (const entry of entries) {
    const pending = c.index.get(Number(entry.id));
    if (pending?.ahead === lease) pending.ahead = undefined;
  }
  try {
    const now = options.clock.now();
    const doomed: ToDead[] = [];
    const ready: { entry: Entry; task: StoredTask }[] = [];
    let timedOut: Error | undefined;
    // A batch's hooks run side by side: one after another, a hook of 30 ms held a batch of 100 past the time limit at
    // every attempt, and it was never sent.
    const edits = entries.map((entry): Edit | Promise<Edit> => {
      const task = entry.value;
      if (task.expiresAt !== undefined && task.expiresAt <= now) return { entry, reason: 'expired' } as const;
      // A newer task of its key came since it was taken (another handle's enqueue leaves it to this one): replaced.
      if (c.index.get(Number(entry.id))?.outdated) return { entry, reason: 'superseded' } as const;
      return options.onBeforeSend ? beforeSend(c, entry, deadline) : { task };
    });
    // No hook, no promise: an await is a turn of the microtask queue before the request, for nothing.
    for (const [i, edit] of (options.onBeforeSend ? await Promise.all(edits) : (edits as Edit[])).entries()) {
      if ('reason' in edit) doomed.push(edit);
      else ready.push({ entry: entries[i]!, task: 'task' in edit ? edit.task : entries[i]!.value });
      if ('timeout' in edit) timedOut = edit.timeout;
    }
    // Each await is a turn of the microtask queue between one response and the next request: none for nothing.
    // Should their burial fail, they are given back (see `moveToDead`) and the rest of a batch goes all the same.
    if (doomed.length > 0) await buryUntried(c, doomed, lease, run);
    if (ready.length === 0) return true;
    const sending = { fetch: c.transport(), headers: options.headers, batchUrl: options.batchUrl, keyHeader: options.keyHeader, redirect: options.redirect, bodies: c.bodies, reachability: c.reachability, secrets: options.onBeforeSend && addedValues(ready) };
    let exchange: Exchange = timedOut ? { kind: 'error', error: timedOut, network: false, secrets: [] } : await send(ready.map((r) => r.task), sending, deadline);
    // A CORS refusal (its host answers a probe) is the host's failure, never the network's: no 'offline', and only its
    // host waits its backoff. Where the platform says the network is gone, that is what it is.
    const refusal = exchange.kind === 'error' && exchange.sent && c.cors && !c.reachability.hintsOffline ? await c.cors.refusal(exchange.sent, exchange.error, (probe) => deadline.race(probe)) : undefined;
    if (refusal && exchange.kind === 'error') exchange = { ...exchange, error: refusal.error, network: false };
    // Out of time while its probe was out: the attempt timed out, as one with no answer in time does.
    else if (exchange.kind === 'error' && exchange.network && deadline.expired) exchange = { ...exchange, error: deadline.error(), network: false };
    // A request to the batch URL answers for no one host; a task that travels alone (not batchable) for its own.
    const alone = options.batchUrl === undefined || (ready.length === 1 && !batchable(ready[0]!.task));
    const origin = alone ? originOf(ready[0]!.task.url) : undefined;
    // A probe answered just now: the network is there (online again), though the host still counts as not answering.
    if (refusal?.probed && origin !== undefined) c.reachability.networkThere();
    // No answer from its host: a network error, a CORS refusal, or no response in time.
    const noAnswer = exchange.kind === 'error' && (exchange.network || refusal !== undefined || (!timedOut && deadline.expired));
    if (exchange.kind === 'response' || exchange.kind === 'redirect') c.reachability.saw(true, started, origin);
    // A batch refused answers for no one host: it is held as the network's failure, as before it was named.
    else if (exchange.kind === 'error' && (exchange.network || (refusal && origin === undefined))) c.reachability.saw(false, started, origin);
    else if (noAnswer && origin !== undefined) c.reachability.unanswered(origin, started);
    // Failed at its host as a host's do: its other tasks go first there until it answers (see `SuspectSlots.limits`).
    if (noAnswer && origin !== undefined) {
      const now = monotonic(options.clock);
      for (const r of ready) {
        const pending = c.index.get(Number(r.entry.id));
        if (pending) pending.failedHere = now;
      }
    }
    // On a Retry-After, a task sent alone holds the origin it is stored for (the index's; onBeforeSend may send it elsewhere).
    const host = alone ? originOf(ready[0]!.entry.value.url) : undefined;
    const settled = await settle(c, ready, exchange, { lease, run, delivered, deadline, origin, host });
    return settled === 'too-large' ? c.batchFit!.refused(c.index, ready.map((r) => r.entry)) : settled;
  } finally {
    deadline.end();
  }
}

/** Moves to dead tasks taken without a request made for them; a failed burial is told (and gives them back). */
export function buryUntried(c: DeliveryContext, doomed: readonly ToDead[], lease: Lease<StoredTask>, run: DeliveryRun): Promise<void> {
  return c.toDead(doomed.map((d) => unsent(c, d)), lease, run).catch((error: unknown) => c.emit('error', { error }));
}

/**
 * A task that goes to dead before its request (expired, skipped, or made unsendable by `onBeforeSend`): this take
 * made no request, so its attempts are those made before, and its dead letter keeps what the last of them got.
 */
function unsent(c: DeliveryContext, dead: ToDead): ToDead {
  const { entry } = dead;
  const last = c.index.get(Number(entry.id))?.last;
  return { ...last, ...dead, entry: { id: entry.id, value: entry.value, attempts: Math.max(0, entry.attempts - 1) }, untried: true };
}

/** What becomes of a task before its request: sent as it is or as `onBeforeSend` made it, dead, or out of time. */
type Edit = { task: StoredTask } | { timeout: Error } | ToDead;

/**
 * `onBeforeSend` on one task, within the attempt's time: its edit, a skip or a failure (dead: 'skipped', or
 * 'invalid' when it throws or returns what does not validate: the task cannot be built, which no retry changes),
 * or the time running out (the attempt is a retry).
 */
async function beforeSend(c: DeliveryContext, entry: Entry, deadline: Deadline): Promise<Edit> {
  const stored = entry.value;
  let edited: Awaited<ReturnType<NonNullable<ResolvedOutboxOptions['onBeforeSend']>>>;
  try {
    edited = await deadline.race(c.options.onBeforeSend!(publicTask(stored)));
  } catch (error) {
    // Its own words: no request was made, so "no response" would mislead.
    if (isTimeout(error)) return { timeout: deadline.expired ? new DOMException(`\`onBeforeSend\` did not finish within the attempt's ${c.options.timeoutMs} ms.`, 'TimeoutError') : (error as Error) };
    return { entry, reason: 'invalid', error: `\`onBeforeSend\` threw: ${errorText(error, [])}` };
  }
  if (edited === false) return { entry, reason: 'skipped' };
  let task: StoredTask;
  try {
    // The id (the Idempotency-Key) and the age stay the task's own, whatever the hook returns.
    task = keepingJson(stored, normaliseTask({ ...edited, id: stored.id }, c.options.baseUrl, stored.createdAt, c.options.keyHeader));
  } catch (error) {
    return { entry, reason: 'invalid', error: messageOf(error) };
  }
  // It was chosen to travel in a batch, a JSON array of bodies, which bytes cannot join.
  if (c.options.batchUrl !== undefined && batchable(stored) && !batchable(task)) {
    return { entry, reason: 'invalid', error: '`onBeforeSend` returned a task that cannot travel in a batch (a POST of JSON or plain text, with no header of its own but its content type).' };
  }
  return { task };
}
