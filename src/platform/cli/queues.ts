import { counted, SluiceError } from '../../core/errors.js';
import type { Queue } from '../../core/queue.js';
import type { Lease, QueueEntry } from '../../core/queue-types.js';
import { DrainedBodies, type BodyFields } from './bodies.js';
import { type Context, mayChange, withQueue } from './context.js';
import { REPAIRED } from './damage.js';
import { failure } from './failure.js';
import { columnWidths, duration, onSignals, printError, signalled, table } from './io.js';
import { kindOf, queueNames, type QueueKind } from './layout.js';
import { ageText, oldestAge, type OldestAge } from './oldest.js';
import { Progress } from './progress.js';
import { valueFields, valueText } from './values.js';

interface Summary {
  readonly queue: string;
  readonly kind: QueueKind;
  readonly size: number;
  readonly leased: number;
  readonly delayed: number;
  readonly segments: number;
  readonly bytes: number;
  readonly oldest: OldestAge | null;
}

async function summarize(ctx: Context, queue: Queue<unknown>): Promise<Summary> {
  const kind = kindOf(ctx.dir, queue.name);
  const { size, leased, delayed, segments, bytes } = await queue.stats();
  return { queue: queue.name, kind, size, leased, delayed, segments, bytes, oldest: await oldestAge(queue, kind, ctx.dir, ctx.now()) };
}

const COLUMNS = ['queue', 'kind', 'size', 'leased', 'delayed', 'segments', 'bytes', 'oldest'] as const;
const cells = (s: Summary) => COLUMNS.map((column) => (column === 'oldest' ? ageText(s.oldest) : String(s[column])));

/**
 * Every queue of the directory, one row (or JSON line) each. A queue that cannot be read (damaged, locked) hides none
 * of the others: its row says so, its error is on stderr, and the exit code is 1 once all are listed.
 */
export async function ls(ctx: Context): Promise<number> {
  const rows: string[][] = [[...COLUMNS]];
  let code = 0;
  for (const name of queueNames(ctx.dir)) {
    let summary: Summary;
    try {
      summary = await withQueue(ctx, name, (queue) => summarize(ctx, queue));
    } catch (error) {
      const { code: errorCode, message } = failure(error, ctx.corruption);
      const kind = kindOf(ctx.dir, name);
      printError(ctx.io, new SluiceError(errorCode, `${name}: ${message}`, { cause: error }), ctx.json);
      if (ctx.json) ctx.io.out(JSON.stringify({ queue: name, kind, error: { code: errorCode, message } }));
      else rows.push([name, kind, ...COLUMNS.slice(2, -1).map(() => '-'), `${errorCode} (on stderr)`]);
      code = 1;
      continue;
    }
    if (ctx.json) ctx.io.out(JSON.stringify(summary));
    else rows.push(cells(summary));
  }
  if (!ctx.json) for (const line of table(rows)) ctx.io.out(line);
  return code;
}

export async function stats(ctx: Context, name: string): Promise<number> {
  const summary = await withQueue(ctx, name, (queue) => summarize(ctx, queue));
  if (ctx.json) ctx.io.out(JSON.stringify(summary));
  else for (const line of table(COLUMNS.map((column, i) => [column, cells(summary)[i]!]))) ctx.io.out(line);
  return 0;
}

/**
 * An entry's state as its user sees it: an outbox's task ready in the queue but waiting for its `notBefore` is
 * `scheduled` (its outbox sends it then, not before), as the outbox's own `list()` says.
 */
function seen(kind: QueueKind, entry: QueueEntry<unknown>, now: number): { state: QueueEntry<unknown>['state'] | 'scheduled'; availableAt: number } {
  const notBefore = kind === 'outbox' && entry.state === 'ready' ? (entry.value as { notBefore?: unknown } | null)?.notBefore : undefined;
  return typeof notBefore === 'number' && notBefore > now ? { state: 'scheduled', availableAt: notBefore } : entry;
}

/**
 * The first `limit` unacked entries, each with its state as the queue sees it now (a lapsed lease is ready). Read and
 * written a page at a time, each page written before the next is read: `--limit 1000000` holds one page in memory,
 * not the queue (1.6 GB for a queue of 19 MB, read whole), and a reader that stops reading stops the reading.
 */
export async function peek(ctx: Context, name: string, limit: number): Promise<number> {
  return withQueue(ctx, name, async (queue) => {
    const now = ctx.now();
    const kind = kindOf(ctx.dir, name);
    const when = (at: number) => (at === 0 ? '-' : at > now ? `in ${duration(at - now)}` : `${duration(now - at)} ago`);
    // Columns as wide as the widest cell so far (the header's at least): a page lines up with those before it unless a
    // cell of its is wider (ids gaining a digit).
    let widths: number[] | undefined;
    let shown = 0;
    for (let after: string | undefined; shown < limit; ) {
      const page = (await queue.list({ limit: Math.min(PEEK_PAGE, limit - shown), after })).map((e) => ({ ...e, ...seen(kind, e, now) }));
      if (page.length === 0) break;
      if (ctx.json) {
        for (const { id, state, attempts, availableAt, value } of page) ctx.io.out(JSON.stringify({ id, state, attempts, availableAt, ...valueFields(value) }));
      } else {
        const rows = page.map((e) => [e.id, e.state, String(e.attempts), when(e.availableAt), valueText(e.value)]);
        if (widths === undefined) rows.unshift(PEEK_HEADER);
        widths = columnWidths(rows, widths);
        for (const line of table(rows, widths)) ctx.io.out(line);
      }
      shown += page.length;
      after = page.at(-1)!.id;
      await ctx.io.written?.();
    }
    if (ctx.json) return 0;
    if (shown === 0) ctx.io.out(table([PEEK_HEADER])[0]!);
    const size = await queue.size();
    if (size > shown) ctx.io.out(`(${shown} of ${size} entries; --limit shows more)`);
    return 0;
  });
}

// Entries per page of `peek`.
const PEEK_PAGE = 1000;
const PEEK_HEADER = ['id', 'state', 'attempts', 'available', 'value'];

// Items per lease: large enough that a drain of 100 000 items is a thousand commits, not 100 000.
const DRAIN_BATCH = 100;
/**
 * How long a drain holds each batch at a time: from the take, while the batch is written (as slowly as stdout takes
 * it: a pager, a slow pipe), to the ack, the lease is extended every third of this, so that it does not lapse and give
 * the items to another consumer as well. A drain that dies gives its items back at once where FileStore can see its
 * process gone; run from another container or host (on a volume a service's containers share), a killed drain keeps
 * its batch from the workers until this has passed.
 */
const DRAIN_LEASE_MS = 60_000;

/**
 * Takes entries (all there are, or `limit`), prints each, and acks each batch once it is written: a reader that goes
 * away (EPIPE) or a failed write puts the batch back, unacked, and fails the drain. A progress bar on a TTY.
 */
export async function drain(ctx: Context, name: string, limit = Infinity): Promise<number> {
  // Ctrl-C or a kill ends the drain between batches: the batch being written is acked first, none is taken after. Heard
  // once the queue is open and the drain begins (one during a wait for its lock ends the process, as `clear`) until closed:
  // one that comes as it closes, the drain done, changes nothing. A second ends it at once.
  let stopping: NodeJS.Signals | undefined;
  let stuck: ((signal: NodeJS.Signals) => void) | undefined;
  const stop = (signal: NodeJS.Signals) => ((stopping = signal), stuck?.(signal));
  let unheard: (() => void) | undefined;
  const opened = (then: (signal: NodeJS.Signals) => void) => {
    stuck = then;
    unheard = onSignals(stop);
  };
  try {
    return await drainOpen(ctx, name, limit, () => stopping, opened);
  } finally {
    unheard?.();
  }
}

function drainOpen(ctx: Context, name: string, limit: number, stopping: () => NodeJS.Signals | undefined, opened: (stuck: (signal: NodeJS.Signals) => void) => void): Promise<number> {
  return withQueue(ctx, name, async (queue) => {
    // Acked once written, and written nowhere: `>&-` too, for which Node opens the null device.
    if (ctx.io.nowhere?.()) {
      throw new SluiceError('ERR_CLOSED', `stdout is closed or the null device: what drain prints would be lost, unseen. Nothing was drained from ${name}; to remove items without printing them, run \`sluice clear\`.`);
    }
    // Acked items a repair made deliverable again would be printed as new: not before the user has seen the repair.
    if (!mayChange(ctx, `Nothing was drained from ${name}`)) return REPAIRED;
    // For the progress bar only: `take` also hands out what stats counts as leased to a process that has died.
    const { size, delayed } = await queue.stats();
    const progress = new Progress(ctx.io.progress, `Draining ${name}`, Math.min(limit, size - delayed), ctx.now);
    const bodies = await DrainedBodies.open(ctx, name, kindOf(ctx.dir, name), queue);
    // A batch stuck on stdout as a signal comes (a reader that does not read) goes back unacked within a second, rather
    // than when its lease ends: a FileStore sees a dead process's leases gone only on its own host and pid namespace.
    let waiting = false;
    let done = 0;
    let cutoff: ReturnType<typeof setTimeout> | undefined;
    opened((signal) => {
      if (!waiting) return;
      // Said on stderr: stdout is the pipe that does not read. What was acked sits in it, the reader's to keep.
      const text = `${counted(done, 'entry was', 'entries were')} drained from ${name} (written, then acked) before ${signal}; the batch being written was put back, unacked.`;
      const told = () => ctx.io.err(ctx.json ? JSON.stringify({ stopped: { queue: name, signal, drained: done, message: text } }) : `sluice: ${text}`);
      // Let go once the batch is written (the reader took it): its ack, however long, then says what was drained.
      clearTimeout(cutoff);
      cutoff = setTimeout(() => void queue.close().finally(() => (told(), process.exit(signalled(signal)))), 1000).unref();
    });
    // The error that already says what was drained.
    let told: unknown;
    const drained = () => `${done} entries were drained from ${name} (written, then acked)`;
    try {
      while (done < limit && !stopping()) {
        const lease = await queue.take(Math.min(DRAIN_BATCH, limit - done), { leaseMs: DRAIN_LEASE_MS });
        // Damage a take met (a segment that fails its checksum, with --corruption skip): the drain stops there, as one
        // that met it on opening would not have begun, and says what it drained before.
        const damaged = !ctx.acceptRepairs && ctx.damage.queues.length > 0;
        if (stopping() || damaged) {
          await lease?.release();
          if (damaged) {
            ctx.damage.notice(`The drain stopped: ${name} needed repair (above). ${counted(done, 'entry was', 'entries were')} drained before it (written, then acked); the rest is left. The repair is stored: run the command again to go on, or pass --accept-repairs.`);
            return REPAIRED;
          }
          break;
        }
        if (!lease) break;
        // A failed extension is the ack's to tell (it finds the items in other hands, or acks them).
        const keep = setInterval(() => void lease.extend().catch(() => undefined), DRAIN_LEASE_MS / 3);
        try {
          progress.clear();
          for (const { id, attempts, value } of lease.entries) {
            const body = (await bodies?.fieldsOf(value)) ?? {};
            ctx.io.out(ctx.json ? JSON.stringify({ id, attempts, ...valueFields(value), ...body }) : `${id}  ${valueText(value)}${bodyText(body)}`);
          }
          // Acked only once written: a reader that went away (`| head -1`) must not take the items with it.
          waiting = true;
          await writtenOrReleased(ctx, lease, drained()).catch((error: unknown) => {
            throw (told = error);
          });
          waiting = false;
          clearTimeout(cutoff);
        } finally {
          clearInterval(keep);
        }
        await lease.ack().catch(async (error: unknown) => {
          throw (told = await notAcked(ctx, lease, error, drained()));
        });
        done += lease.entries.length;
        progress.update(done);
      }
    } catch (error) {
      // Whatever stops a drain part way (a segment that fails its checksum, the lock): what it drained is said.
      if (error !== told && done > 0 && error instanceof Error) error.message = `${ended(error.message)} ${done} entries were drained from ${name} before this (written, then acked).`;
      throw error;
    } finally {
      clearTimeout(cutoff);
      progress.clear();
      await bodies?.close();
    }
    // A signal during the last batch of a `--limit` stopped nothing: all asked for was drained.
    const stopped = done < limit ? stopping() : undefined;
    ctx.changed = `Drained ${counted(done, 'entry', 'entries')} from ${name}${stopped ? ` (stopped by ${stopped})` : ''}.`;
    if (!ctx.json) ctx.io.out(ctx.changed);
    return stopped ? signalled(stopped) : 0;
  });
}

/**
 * The error of a batch written whose ack failed (the lock held too long by a stopped process, a full disk): it says so,
 * and that the batch is given back (or, where that fails too, left until its lease ends) to be delivered again.
 */
function notAcked(ctx: Context, lease: Lease<unknown>, error: unknown, drained: string): Promise<SluiceError> {
  const n = lease.entries.length;
  return putBack(ctx, lease, error, drained, `the ${n} written last were not acked: they were put back, and will be delivered again.`, () =>
    `the ${n} written last were not acked: they stay leased until the lease ends (a minute at most), and will be delivered again.`,
  );
}

/**
 * `error`, of the drain of `lease`'s batch, once the batch is put back as it was handed out (attempts counted: some
 * may have reached the reader): its message says what was `drained` before, then `back`, or `kept` where the batch
 * could not be put back (given the code of why).
 */
async function putBack(ctx: Context, lease: Lease<unknown>, error: unknown, drained: string, back: string, kept: (code: string) => string): Promise<SluiceError> {
  const { code, message } = failure(error, ctx.corruption);
  const said = await lease.release().then(
    () => back,
    (cause: unknown) => kept(failure(cause, ctx.corruption).code),
  );
  return new SluiceError(code, `${ended(message)} ${drained}; ${said}`, { cause: error });
}

/** `message` ended as a sentence, for another to follow it (a store's own ends without a full stop). */
function ended(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** A body printed beside its entry on a line of text (see `DrainedBodies`). */
function bodyText(body: BodyFields): string {
  if ('body' in body) return `  body base64:${body.body}`;
  return 'bodyError' in body ? `  body unreadable: ${body.bodyError}` : '';
}

/** Waits until the lease's entries are written; when they cannot be, puts them back and throws, saying `drained`. */
async function writtenOrReleased(ctx: Context, lease: Lease<unknown>, drained: string): Promise<void> {
  try {
    await ctx.io.written?.();
  } catch (error) {
    const n = lease.entries.length;
    throw await putBack(ctx, lease, error, drained, `the ${n} being written were put back, unacked.`, (code) =>
      `the ${n} being written could not be put back (${code}); they are not acked, and come back once this process has exited.`,
    );
  }
}

export async function clear(ctx: Context, name: string): Promise<number> {
  return withQueue(ctx, name, async (queue) => {
    if (!mayChange(ctx, `Nothing was removed from ${name}`)) return REPAIRED;
    // Counted where it is removed, under the lock: items pushed meanwhile are removed too, and counted.
    const removed = await queue.clear();
    ctx.changed = `Removed ${counted(removed, 'entry', 'entries')} from ${name}.`;
    ctx.io.out(ctx.json ? JSON.stringify({ queue: name, removed }) : ctx.changed);
    return 0;
  });
}
