import { SluiceError } from './errors.js';
import { existsGuarded } from './guarded-storage.js';
import { MAX_NAME, type ResolvedOptions } from './options.js';

/** Where the outbox `name` keeps its dead letters; its tasks are in the queue `name` (see `openQueues`). */
export function deadLettersOf(name: string): string {
  return `${name}.dead`;
}

/**
 * `o`, unless the queue `o.name` is an outbox's: its store says `<name>.dead` exists (an outbox makes it before its
 * queue). A Queue opened on it would take the outbox's HTTP tasks as items, and its acks remove them unsent, with no
 * event and no dead letter: refused with 'ERR_INCOMPATIBLE_STORE', nothing opened or changed. Skipped where the store
 * cannot tell (no `exists`), and for the outbox's own opens (`OUTBOX_QUEUE`).
 */
export async function notAnOutboxs<T>(o: ResolvedOptions<T>): Promise<ResolvedOptions<T>> {
  const dead = deadLettersOf(o.name);
  // A name whose `.dead` would be too long is no outbox's (an outbox's name leaves room for it).
  if (o.outboxQueue || dead.length > MAX_NAME || !(await existsGuarded(o.store, dead, o.name))) return o;
  throw new SluiceError(
    'ERR_INCOMPATIBLE_STORE',
    `Queue "${o.name}" is an outbox's queue (its tasks; its dead letters are in "${dead}"): its items are HTTP tasks the outbox delivers, and a Queue's acks would remove them unsent. Open it as \`Outbox.open({ name: '${o.name}' })\`, or give the Queue another name (and a queue of dead letters of your own a name other than "<name>.dead", the outbox's layout, which the CLI takes for an outbox).`,
  );
}
