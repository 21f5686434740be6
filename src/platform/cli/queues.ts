import type { Queue } from '../../core/queue.js';
import { type Context, mayChange, withQueue } from './context.js';
import { REPAIRED } from './damage.js';
import { duration, table } from './io.js';
import { kindOf, queueNames, type QueueKind } from './layout.js';
import { ageText, oldestAge, type OldestAge } from './oldest.js';
import { Progress } from './progress.js';

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

/** Every queue of the directory, one row (or JSON line) each. */
export async function ls(ctx: Context): Promise<number> {
  const rows: string[][] = [[...COLUMNS]];
  for (const name of queueNames(ctx.dir)) {
    const summary = await withQueue(ctx, name, (queue) => summarize(ctx, queue));
    if (ctx.json) ctx.io.out(JSON.stringify(summary));
    else rows.push(cells(summary));
  }
  if (!ctx.json) for (const line of table(rows)) ctx.io.out(line);
  return 0;
}

export async function stats(ctx: Context, name: string): Promise<number> {
  const summary = await withQueue(ctx, name, (queue) => summarize(ctx, queue));
  if (ctx.json) ctx.io.out(JSON.stringify(summary));
  else for (const line of table(COLUMNS.map((column, i) => [column, cells(summary)[i]!]))) ctx.io.out(line);
  return 0;
}

/** The first `limit` unacked entries, each with its state as the queue sees it now (a lapsed lease is ready). */
export async function peek(ctx: Context, name: string, limit: number): Promise<number> {
  return withQueue(ctx, name, async (queue) => {
    const entries = await queue.list({ limit });
    const now = ctx.now();
    if (ctx.json) {
      for (const { id, state, attempts, availableAt, value } of entries) ctx.io.out(JSON.stringify({ id, state, attempts, availableAt, value }));
      return 0;
    }
    const when = (at: number) => (at === 0 ? '-' : at > now ? `in ${duration(at - now)}` : `${duration(now - at)} ago`);
    const rows = entries.map((e) => [e.id, e.state, String(e.attempts), when(e.availableAt), JSON.stringify(e.value)]);
    for (const line of table([['id', 'state', 'attempts', 'available', 'value'], ...rows])) ctx.io.out(line);
    const size = await queue.size();
    if (size > entries.length) ctx.io.out(`(${entries.length} of ${size} entries; --limit shows more)`);
    return 0;
  });
}

// Items per lease: large enough that a drain of 100 000 items is a thousand commits, not 100 000.
const DRAIN_BATCH = 100;

/** Takes entries (all available, or `limit`), prints each, then acks them; a progress bar on a TTY. */
export async function drain(ctx: Context, name: string, limit: number | undefined): Promise<number> {
  return withQueue(ctx, name, async (queue) => {
    // Acked items a repair made deliverable again would be printed as new: not before the user has seen the repair.
    if (!mayChange(ctx, `Nothing was drained from ${name}`)) return REPAIRED;
    const { size, leased, delayed } = await queue.stats();
    const wanted = Math.min(limit ?? Infinity, size - leased - delayed);
    const progress = new Progress(ctx.io.progress, `Draining ${name}`, wanted, ctx.now);
    let done = 0;
    try {
      while (done < wanted) {
        const lease = await queue.take(Math.min(DRAIN_BATCH, wanted - done));
        if (!lease) break;
        // Printed before the ack: an interrupted drain loses nothing it did not print.
        progress.clear();
        for (const { id, attempts, value } of lease.entries) {
          ctx.io.out(ctx.json ? JSON.stringify({ id, attempts, value }) : `${id}  ${JSON.stringify(value)}`);
        }
        await lease.ack();
        done += lease.entries.length;
        progress.update(done);
      }
    } finally {
      progress.clear();
    }
    if (!ctx.json) ctx.io.out(`Drained ${done} entries from ${name}.`);
    return 0;
  });
}

export async function clear(ctx: Context, name: string): Promise<number> {
  return withQueue(ctx, name, async (queue) => {
    if (!mayChange(ctx, `Nothing was removed from ${name}`)) return REPAIRED;
    const removed = await queue.size();
    await queue.clear();
    ctx.io.out(ctx.json ? JSON.stringify({ queue: name, removed }) : `Removed ${removed} entries from ${name}.`);
    return 0;
  });
}
