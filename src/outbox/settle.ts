import type { Lease } from '../core/queue-types.js';
import { ackLater } from './ack-later.js';
import { retryTogether, tooLarge } from './batch-fit.js';
import { isTimeout, type Deadline } from './deadline.js';
import type { DeliveryContext, DeliveryRun, Entry, ToDead } from './delivery.js';
import type { Relayed } from './coordination.js';
import type { RetryDetail, SentDetail } from './events.js';
import { bodiesOf } from './enqueue.js';
import { indexedAs } from './landed.js';
import { errorText } from './scrub.js';
import { bodyOf, copyOf, readBody, type ReadBody } from './response-body.js';
import { tally } from './tally.js';
import { discard, type Exchange } from './send.js';
import { parseRetryAfter } from './retry-after.js';
import { publicTask, type StoredTask } from './task.js';
import { handedOver, verdictFor, type Verdict } from './verdict.js';
import { messageOf } from '../core/errors.js';

/** Tasks that left the outbox by a response: acked together at the end of their unit, then told. */
export interface Delivered {
  readonly ids: readonly string[];
  /** The keys of their bodies stored beside them, deleted once they are acked. */
  readonly bodies: readonly string[];
  /** Counts them in the run and says so ('sent' or 'handed-over' events), once their ack is committed. */
  readonly tell: () => void;
}

type Ready = readonly { entry: Entry; task: StoredTask }[];
/** A task of an attempt, with its verdict and what events show of it. */
type Judged = Ready[number] & { readonly view: SentDetail['task']; readonly verdict: Verdict };

interface Attempt {
  readonly lease: Lease<StoredTask>;
  readonly run: DeliveryRun;
  readonly delivered: Delivered[];
  readonly deadline: Deadline;
  /** Where the request went (undefined: a batch), as `Reachability.saw` was told. */
  readonly origin: string | undefined;
  /** The origin a `Retry-After` on its answer holds (see `HostHolds`): its task's as stored, as the index knows it (undefined: a batch). */
  readonly host: string | undefined;
}

/**
 * Applies the verdict on an exchange: acked (at the end of the unit, into `acks`), handed over to a service
 * worker's outbox (acked too), released with a delay, or dead. A response judged sent is read to its end first,
 * within the attempt's time: a body that stalls makes the attempt a timeout (a retry), so an event says what is
 * final. True when the lane may go on; 'too-large' for a batch refused with 413, which is sent again in halves.
 */
export async function settle(c: DeliveryContext, ready: Ready, exchange: Exchange, a: Attempt): Promise<boolean | 'too-large'> {
  const { options } = c;
  if (exchange.kind === 'invalid' || exchange.kind === 'redirect') {
    const what: Omit<ToDead, 'entry'> =
      exchange.kind === 'invalid'
        ? { reason: 'invalid', error: exchange.error }
        : { reason: 'redirect', status: exchange.redirect.status, ...(exchange.redirect.location !== undefined && { location: exchange.redirect.location }) };
    await c.toDead(ready.map(({ entry }) => ({ entry, ...what })), a.lease, a.run);
    // Out of its lane: the next task of a chain may go.
    return true;
  }
  let outcome: Response | Error = exchange.kind === 'response' ? exchange.response : exchange.error;
  // Events tell the task as enqueued (README), not as `onBeforeSend` made it: what that adds (a token) is the send's.
  const views = ready.map((r) => publicTask(r.entry.value));
  if (!(outcome instanceof Error)) {
    const queuedAs = handedOver(outcome);
    if (queuedAs !== undefined) {
      await discard(outcome, a.deadline);
      left(a, ready, () => {
        tally(a.run, 'handedOver', ready.length);
        tell(c, 'handed-over', ready.map((r, i) => ({ ...r, view: views[i]! })), { queuedAs });
      });
      return true;
    }
  }
  // Too large as one request: its tasks go again at once in halves (see `deliver`), never to dead together.
  if (!(outcome instanceof Error) && tooLarge(outcome, ready.length)) {
    await discard(outcome, a.deadline);
    return 'too-large';
  }
  // Each task is judged by its own attempts and age, one response for all: a fresh task batched with one past its
  // limits is not buried with it. Those retried go again together, after the first one's delay.
  const now = options.clock.now();
  // Only a request no answer came for waits on the network (a success at its host ends that wait): one the server
  // answered (its 2xx body then broke off, or fetch could not parse the answer) waits its backoff, whatever succeeds.
  const unanswered = exchange.kind === 'error' && exchange.network;
  // A batch request (of one task too: no host of its own) answered in time: batches made smaller grow back after enough.
  if (exchange.kind === 'response' && a.host === undefined) c.batchFit?.timed(true);
  const judge = () =>
    ready.map(({ entry, task }, i) => {
      // `classify` judges the request made: the task as `onBeforeSend` made it.
      const verdict = verdictFor(outcome, task === entry.value ? views[i]! : publicTask(task), options, { attempts: entry.attempts, createdAt: entry.value.createdAt, now });
      return !unanswered && verdict.kind === 'retry' && verdict.cause === 'network' ? { ...verdict, cause: 'server' as const } : verdict;
    });
  let verdicts = judge();
  let body: ReadBody | undefined;
  // A body of null is none (a 204); one like a Response may have no `body` at all, and is read all the same.
  if (verdicts.some((v) => v.kind === 'sent') && !(outcome instanceof Error) && outcome.body !== null) {
    try {
      body = await a.deadline.race(readBody(outcome));
    } catch (error) {
      // The body stalled or broke off: no complete response, so not sent.
      outcome = a.deadline.expired ? a.deadline.error() : error instanceof Error ? error : new Error(messageOf(error));
      verdicts = judge();
    }
  }
  const to: Record<Verdict['kind'], Judged[]> = { sent: [], retry: [], dead: [] };
  // Named, not spread: a literal that starts with a spread and adds fields costs about 2 µs in V8.
  ready.forEach(({ entry, task }, i) => {
    let verdict = verdicts[i]!;
    // A newer task with its key came while this request was out: a retry would put older data over newer.
    if (verdict.kind === 'retry' && c.index.get(Number(entry.id))?.outdated) verdict = SUPERSEDED;
    to[verdict.kind].push({ entry, task, view: views[i]!, verdict });
  });
  const { sent } = to;
  if (sent[0]) {
    c.delivered(a.origin);
    const response = outcome instanceof Error ? undefined : outcome;
    // Counted once acked, as the event: a task whose ack fails is sent again, and a flush says it is not sent yet.
    left(a, sent, () => {
      tally(a.run, 'sent', sent.length);
      tell(c, 'sent', sent, { status: response?.status ?? 0 }, (detail) => (response ? withResponse(detail, response, body) : detail));
    });
    if (sent.length === ready.length) return true;
  }
  const secrets = exchange.kind === 'response' || exchange.kind === 'error' ? exchange.secrets : [];
  const extra = outcome instanceof Error ? { error: errorText(outcome, secrets) } : { status: outcome.status };
  try {
    // A wait the server asked for holds its host, every group's tasks there, not only these (see `HostHolds`): on any
    // answer judged a retry, whatever became of these tasks (dead at their limits, or superseded), the host's wait
    // stands. No longer than `retry.maxAgeMs`, which no task's own wait outlasts.
    const judgedRetry = to.retry[0] !== undefined || to.dead.some(({ verdict }) => verdict.kind === 'dead' && verdict.reason !== 'status' && verdict.reason !== 'network');
    const asked = a.host === undefined || outcome instanceof Error || !judgedRetry ? undefined : parseRetryAfter(outcome.headers.get('retry-after'), now, outcome.headers.get('date'));
    if (asked) c.reachability.holds.hold(a.host!, Math.min(asked, options.retry.maxAgeMs));
    const timedOut = outcome instanceof Error && isTimeout(outcome);
    // A batch that timed out again, all its tasks dead at their limits (`maxAttempts: 2`): later batches learn from it.
    if (options.batch && timedOut && !to.retry[0]) retryTogether(c.batchFit!, ready.map((r) => indexedAs(c.index, r.entry)), ready.map((r) => r.entry.id), true);
    await c.toDead(to.dead.map(({ entry, verdict }) => ({ entry, reason: (verdict as Extract<Verdict, { kind: 'dead' }>).reason, ...extra })), a.lease, a.run);
    const retrying = to.retry;
    if (!retrying[0]) return true;
    await retry(c, retrying, retrying[0]!.verdict as Extract<Verdict, { kind: 'retry' }>, extra, a, timedOut);
    return false;
  } finally {
    if (!(outcome instanceof Error)) await discard(outcome, a.deadline);
  }
}

const SUPERSEDED: Verdict = { kind: 'dead', reason: 'superseded' };

/** `ready` left the outbox by a response: acked at the end of the unit, then `tell`. */
function left(a: Attempt, ready: Ready, tell: () => void): void {
  a.delivered.push({ ids: ready.map((r) => r.entry.id), bodies: bodiesOf(ready.map((r) => r.entry.value)), tell });
}

/** Says that `list` left the outbox (`type`): out of the index, an event here, and one to the other handles. */
function tell(c: DeliveryContext, type: 'sent' | 'handed-over', list: readonly Omit<Judged, 'verdict'>[], more: object, shown?: (detail: SentDetail) => SentDetail): void {
  for (const { entry, view } of list) {
    const pending = indexedAs(c.index, entry);
    if (pending) c.index.remove(pending);
    const detail = { task: view, ...more, attempts: entry.attempts } as SentDetail;
    // Shown (with a getter for the response, about 1.5 µs to make) only in an event made for a listener.
    c.emit(type, detail, shown);
    c.coordination.post({ type, detail, entry: entry.id } as Relayed);
  }
  c.emit('change');
}

/** `detail` with a `response` made when read: the body was read to judge the attempt, so listeners get a copy. */
function withResponse(detail: SentDetail, response: Response, body: ReadBody | undefined): SentDetail {
  let copy: Response | undefined;
  return {
    ...detail,
    get response(): Response {
      // A status the constructor refuses (a custom classify calling an opaque response sent) keeps the original.
      if (!copy) {
        try {
          copy = copyOf(body ? bodyOf(body) : null, response);
        } catch {
          copy = response;
        }
      }
      return copy;
    },
  };
}

async function retry(
  c: DeliveryContext,
  ready: Ready,
  { delayMs, cause }: Extract<Verdict, { kind: 'retry' }>,
  extra: { readonly status?: number; readonly error?: string },
  { lease, run }: Attempt,
  timedOut: boolean,
): Promise<void> {
  const { index } = c;
  const ids = ready.map((r) => r.entry.id);
  // A delay the store could not record (a disk full for a moment) is told, and recorded again in the background while
  // the lease holds them here: they (and their group) wait out the delay, not the lease (`timeoutMs` + 60 s).
  const recorded = await lease.release(ids, { delayMs }).then(
    () => true,
    (error: unknown) => (c.emit('error', { error }), false),
  );
  tally(run, 'retried', ready.length);
  const now = c.waitsFrom();
  if (c.options.batch) retryTogether(c.batchFit!, ready.map((r) => indexedAs(index, r.entry)), ids, timedOut);
  // Told 'retry' once the delay is recorded: until then they are held as the lease holds them.
  const unrecorded: (() => void)[] = [];
  for (const { entry } of ready) {
    const pending = indexedAs(index, entry);
    // Sent early by its host's success and failed again the same way: its host is there, the request is what fails,
    // and its backoff holds from then on, as a server's wait (else it goes again at every success there, a storm of
    // one request, and at every 'online'); in the other handles too, should one of them deliver next.
    const waitsOn = cause === 'network' && pending?.hurried ? 'server' : cause;
    const told = () => {
      const detail: RetryDetail = { task: publicTask(entry.value), attempts: entry.attempts, delayMs, ...extra };
      c.emit('retry', detail);
      c.coordination.post({ type: 'retry', detail, cause: waitsOn, entry: entry.id });
    };
    if (pending) pending.last = extra;
    if (!recorded) {
      if (pending) index.wait(pending, lease.expiresAt, 'lease');
      unrecorded.push(() => {
        if (pending && index.get(pending.seq) === pending && pending.cause === 'lease') index.wait(pending, now + delayMs, waitsOn);
        told();
      });
      continue;
    }
    if (pending) {
      index.wait(pending, now + delayMs, waitsOn);
      // Not for a flush that ended meanwhile (aborted): nothing would unpark it.
      if (run.parked && !run.over) {
        index.park(pending);
        run.parked.add(pending);
      }
    }
    told();
  }
  c.emit('change');
  if (recorded) return;
  const release = () => lease.release(ids, { delayMs: Math.max(0, now + delayMs - c.options.clock.now()) });
  ackLater(c, ids, lease, async () => {
    for (const tell of unrecorded) tell();
    c.emit('change');
  }, undefined, release);
}
