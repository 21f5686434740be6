import { counted, SluiceError } from '../../core/errors.js';
import { deadLettersOf } from '../../core/outbox-names.js';
import type { DeadLetter } from '../../outbox/dead-letters.js';
import { BodyRef } from '../../outbox/body.js';
import { Outbox } from '../../outbox/outbox.js';
import { mayChange, partitionsOf, type Context } from './context.js';
import { REPAIRED, settled } from './damage.js';
import { duration, onSignals, printError, signalled, table } from './io.js';
import { isQueue } from './layout.js';
import { Progress } from './progress.js';

type Action = { readonly action: 'list'; readonly limit: number | undefined } | { readonly action: 'retry' | 'purge'; readonly ids: readonly string[] };

/** `dead <outbox> list|retry|purge`. */
export async function dead(ctx: Context, name: string, command: Action): Promise<number> {
  if (isQueue(ctx.dir, name) && !isQueue(ctx.dir, deadLettersOf(name))) {
    throw new SluiceError('ERR_NOT_FOUND', `"${name}" in ${ctx.store.dir} is a queue, not an outbox: it has no dead letters ("${name}.dead").`);
  }
  // The Outbox reads both its queues whole as it opens, and tells their repairs: reported before anything changes.
  // Placed as the app places them (a partitioned outbox puts a lane in one partition): with its ordering.
  // 'strict' (see `withQueue`): a retry moves each letter with two commits, the task's push and the letter's ack.
  const outbox = await Outbox.open({ name, store: ctx.store, partitions: await partitionsOf(ctx.store, name), corruption: ctx.corruption, durability: 'strict', ...(ctx.ordering && { ordering: ctx.ordering }) });
  ctx.damage.watch(outbox);
  // Ctrl-C or a kill, heard until the outbox is closed: a retry or purge stops after the step under way, saying how
  // many it moved; one that comes as it closes, its work done, changes nothing. A second ends the process at once.
  let stopping: NodeJS.Signals | undefined;
  const unheard = command.action === 'list' ? undefined : onSignals((signal) => void (stopping = signal));
  try {
    await settled();
    if (command.action === 'list') return list(ctx, await outbox.dead.list(command.limit === undefined ? {} : { limit: command.limit }));
    if (!mayChange(ctx, `Nothing was ${command.action === 'retry' ? 'retried' : 'purged'}`)) return REPAIRED;
    return await settle(ctx, outbox, command.action, command.ids, () => stopping);
  } finally {
    await outbox.close();
    await settled();
    unheard?.();
  }
}

function list(ctx: Context, letters: readonly DeadLetter[]): number {
  if (ctx.json) {
    for (const letter of letters) ctx.io.out(JSON.stringify({ ...letter, task: { ...letter.task, ...bodyField(letter.task.body) } }));
    return 0;
  }
  const now = ctx.now();
  const rows = letters.map((l) => [
    l.task.id,
    l.id,
    l.reason,
    l.status === undefined ? '-' : String(l.status),
    String(l.attempts),
    `${duration(now - l.at)} ago`,
    // An error's text is a transport's own (any characters): controls escaped, so that none moves the terminal or
    // starts a row of its own.
    `${l.task.method ?? 'POST'} ${l.task.url}${l.error ? `  (${printable(l.error)})` : ''}`,
  ]);
  for (const line of table([['task', 'id', 'reason', 'status', 'attempts', 'died', 'request'], ...rows])) ctx.io.out(line);
  return 0;
}

/**
 * Retries or purges the dead letters `ids` names (all when none is given: a purge of all was asked with --all). An id is a task id (what `dead list` and
 * the outbox's events show) or a dead letter's entry id. All ids are resolved first: an unknown one, or one that names
 * more than one letter, changes nothing and exits 1, naming it.
 */
async function settle(ctx: Context, outbox: Outbox, action: 'retry' | 'purge', ids: readonly string[], stopping: () => NodeJS.Signals | undefined): Promise<number> {
  const done = action === 'retry' ? 'retried' : 'purged';
  if (action === 'purge' && ids.length === 0) return report(ctx, outbox.name, done, await outbox.dead.purge());
  const letters = await outbox.dead.list();
  // All, as `dead.retry()` takes them: but the superseded, which would put older data over newer.
  let chosen = letters.filter((l) => l.reason !== 'superseded').map((l) => l.id);
  if (ids.length > 0) {
    const byId = new Map<string, string[]>();
    const add = (key: string, id: string) => byId.set(key, [...(byId.get(key) ?? []), id]);
    for (const letter of letters) {
      add(letter.id, letter.id);
      if (letter.task.id !== letter.id) add(letter.task.id, letter.id);
    }
    const unknown = ids.filter((id) => !byId.has(id));
    if (unknown.length > 0) {
      const named = unknown.map((id) => JSON.stringify(id)).join(', ');
      const error = new SluiceError('ERR_NOT_FOUND', `No dead letter of ${outbox.name} has the id ${named}; nothing was ${done}. Ids are task ids (as dead list shows them) or entry ids.`);
      printError(ctx.io, error, ctx.json);
      return 1;
    }
    // Task ids are the app's own (an order number, say): one may be another letter's entry id, or the task id of
    // several letters (the app enqueued two tasks under one id, and both died). Such an id names several letters, of
    // which the user may have meant one: none is taken for it; each letter can be named by its other id.
    const ambiguous = ids.filter((id) => byId.get(id)!.length > 1);
    if (ambiguous.length > 0) {
      const named = ambiguous.map((id) => JSON.stringify(id)).join(', ');
      const how = ambiguous
        .map((id) => {
          const entries = byId.get(id)!;
          const tasks = entries.filter((entry) => entry !== id);
          const those = `entry id${tasks.length === 1 ? '' : 's'} ${tasks.map((entry) => JSON.stringify(entry)).join(', ')}`;
          return entries.includes(id)
            ? `${JSON.stringify(id)} is the entry id of one, the task id of ${tasks.length === 1 ? 'another' : `${tasks.length} others`} (${those})`
            : `${JSON.stringify(id)} is the task id of ${tasks.length} (${those})`;
        })
        .join('; ');
      const error = new SluiceError(
        'ERR_INVALID_OPTION',
        `The id ${named} names more than one dead letter of ${outbox.name} (${how}); nothing was ${done}. Name each letter by an id that is its alone (dead list shows both of its ids).`,
      );
      printError(ctx.io, error, ctx.json);
      return 1;
    }
    chosen = [...new Set(ids.flatMap((id) => byId.get(id)!))];
  }
  // In steps, for the progress bar: each step lists the dead letters again, so there are few of them.
  const step = Math.max(1000, Math.ceil(chosen.length / 20));
  const progress = new Progress(ctx.io.progress, `${action === 'retry' ? 'Retrying' : 'Purging'} dead letters of ${outbox.name}`, chosen.length, ctx.now);
  let count = 0;
  let asked = 0;
  try {
    for (; asked < chosen.length && !stopping(); asked += step) {
      const part = chosen.slice(asked, asked + step);
      count += action === 'retry' ? await outbox.dead.retry(part) : await outbox.dead.purge(part);
      progress.update(asked + part.length);
    }
  } finally {
    progress.clear();
  }
  // A signal during the last step stopped nothing: all was done.
  const cut = asked < chosen.length ? stopping() : undefined;
  report(ctx, outbox.name, done, count, cut);
  return cut ? signalled(cut) : 0;
}

function report(ctx: Context, outbox: string, done: 'retried' | 'purged', count: number, stopped?: NodeJS.Signals): number {
  const moved = done === 'retried' ? `Put ${counted(count, 'task')} back into ${outbox}` : `Purged ${counted(count, 'dead letter')} of ${outbox}`;
  const text = stopped ? `${moved} before ${stopped}; the rest were left as they were.` : `${moved}.`;
  ctx.changed = text;
  ctx.io.out(ctx.json ? JSON.stringify({ outbox, [done]: count, ...(stopped && { stopped }) }) : text);
  return 0;
}

/** `text` with its control characters (C0, DEL, C1) as `\u` escapes. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A task's body in `--json`, in the form the outbox stores it, so that each kind reads as itself: as JSON, bytes
 * (`Uint8Array`) were an object of numbered fields, the same as an object body of those fields.
 */
function bodyField(body: unknown): { body?: unknown } {
  if (body === undefined) return {};
  if (typeof body === 'string') return { body: { text: body } };
  if (body instanceof Uint8Array) return { body: { base64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64') } };
  if (body instanceof BodyRef) return { body: { blob: { size: body.size, type: body.type } } };
  return { body: { json: body } };
}
