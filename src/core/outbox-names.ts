import { SluiceError } from './errors.js';
import { existsGuarded } from './guarded-storage.js';
import { MAX_NAME, type ResolvedOptions } from './options.js';

const DEAD = '.dead';

/** Where the outbox `name` keeps its dead letters; its tasks are in the queue `name` (see `openQueues`). */
export function deadLettersOf(name: string): string {
  return `${name}${DEAD}`;
}

/** The outbox whose dead letters the queue `name` would be (`x` of `x.dead`), or undefined for a name not so made. */
export function outboxOf(name: string): string | undefined {
  return name.endsWith(DEAD) ? name.slice(0, -DEAD.length) : undefined;
}

/**
 * `o`, unless the queue `o.name` is an outbox's: its store says `<name>.dead` exists (an outbox makes it before its
 * queue). A Queue opened on it would take the outbox's HTTP tasks as items, and its acks remove them unsent, with no
 * event and no dead letter: refused with 'ERR_INCOMPATIBLE_STORE', nothing opened or changed. So is `<b>.dead` where
 * `<b>` exists (an outbox's dead letters). Skipped where the store cannot tell (no `exists`), and for the outbox's and
 * the CLI's own opens (`OUTBOX_QUEUE`).
 */
export async function notAnOutboxs<T>(o: ResolvedOptions<T>): Promise<ResolvedOptions<T>> {
  if (o.outboxQueue) return o;
  const dead = deadLettersOf(o.name);
  // A name whose `.dead` would be too long is no outbox's (an outbox's name leaves room for it).
  if (dead.length <= MAX_NAME && (await existsGuarded(o.store, dead, o.name))) {
    throw new SluiceError(
      'ERR_INCOMPATIBLE_STORE',
      `Queue "${o.name}" is an outbox's queue (its tasks; its dead letters are in "${dead}"): its items are HTTP tasks the outbox delivers, and a Queue's acks would remove them unsent. Open it as \`Outbox.open({ name: '${o.name}' })\`, or give the Queue another name (and a queue of dead letters of your own a name other than "<name>.dead", the outbox's layout, which the CLI takes for an outbox).`,
    );
  }
  // `<b>.dead` beside a queue `<b>`: an outbox's dead letters (a Queue's acks would delete them, told nowhere), or, made
  // now, what would make a Queue `<b>` look like an outbox's queue, to the CLI and to this check when `<b>` is opened.
  const outbox = outboxOf(o.name);
  // ('.' and '..' are no names: the store is not asked about them.)
  if (outbox === undefined || /^\.{0,2}$/.test(outbox) || !(await existsGuarded(o.store, outbox, o.name))) return o;
  throw new SluiceError(
    'ERR_INCOMPATIBLE_STORE',
    `Queue "${o.name}" is the name under which an outbox "${outbox}" keeps its dead letters, and "${outbox}" exists: were it an outbox, a Queue's acks would delete its dead letters (read them with \`outbox.dead.list()\`, \`retry\` and \`purge\`, or \`npx sluice dead ${outbox}\`); were it a Queue, this one would make it look like an outbox's queue. Give the Queue a name other than "<name>.dead", the outbox's layout.`,
  );
}
