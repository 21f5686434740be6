import type { Relayed } from './coordination.js';
import type { OutboxEventMap } from './events.js';
import type { Pending, PendingIndex } from './pending.js';
import type { RelayChecks } from './relay-checks.js';

/** What hearing other handles needs of the deliverer. */
export interface HearingContext {
  readonly index: PendingIndex;
  readonly emit: (type: keyof OutboxEventMap, detail?: unknown) => void;
  /** The wall clock's time for a wait that starts now (see `Deliverer`). */
  readonly waitsFrom: () => number;
  /** What may go, and when, changed: a sleeping loop looks again, and sets its timer. */
  readonly kick: () => void;
  /** Another handle asks this one to remove tasks, or answers this one's ask (see `Removal`). */
  readonly withdrawal: (type: 'withdraw' | 'withdrawn', detail: object) => void;
  /** Where what other handles say left the outbox waits for the store to confirm it. */
  readonly checks: Pick<RelayChecks, 'heard'>;
}

/**
 * Another handle sent, handed over, buried or removed tasks (they leave the index) or retries them (they wait, with
 * what their last attempt got, as `list()` shows), or gave them back untried. A message is only a claim (a stray or
 * forged one, another version's): one that is not well formed, or names a task this handle does not index under that
 * entry and task id, is ignored (it has nothing to check it against) unless this handle forgot that very task on
 * finding it gone from the store before the word came (see `Gone`): said at once. The task of one that says it left is
 * held in its place (parked) and said ('sent', 'dead', 'handed-over', remote, with a 'change') only once the store
 * confirms its entry gone; still stored, it goes on (see `RelayChecks`).
 */
export function hear(c: HearingContext, messages: readonly Relayed[]): void {
  const { index } = c;
  let changed = false;
  for (const message of messages) {
    // What a handle of another version relays may differ: only a message with a detail object is read.
    const raw: unknown = message?.detail;
    if (typeof raw !== 'object' || raw === null) continue;
    const type = message.type;
    if (type === 'released') changed = released(c, raw) || changed;
    if (type === 'removed') changed = removed(c, raw) || changed;
    if (type === 'withdraw' || type === 'withdrawn') c.withdrawal(type, raw);
    if (type !== 'sent' && type !== 'dead' && type !== 'handed-over' && type !== 'retry') continue;
    const detail = raw as { task?: { id?: unknown }; delayMs?: unknown; status?: unknown; error?: unknown };
    const id = typeof detail.task === 'object' && detail.task !== null ? detail.task.id : undefined;
    const entry = message.entry;
    // Every task relayed has an id, and its entry (from handles of earlier versions: none) is an entry id.
    if (typeof id !== 'string' || (entry !== undefined && !isEntry(entry))) continue;
    const known = spokenOf(index, entry, id);
    // Of a task this handle forgot, finding it gone before this word came: the store confirmed it already (see `Gone`).
    if (!known && type !== 'retry' && entry !== undefined && index.gone.said(Number(entry), id)) {
      c.emit(type, { ...detail, remote: true });
      c.emit('change');
      // The loop looks again: an index that emptied before the word came says 'drained' only after it (see `Notices`).
      changed = true;
      continue;
    }
    // Of a task this handle does not index, or not the one it indexes under that entry: nothing to check it against.
    if (known?.id !== id) continue;
    const pending = known.state === 'busy' ? undefined : known;
    // A retry is no final word: said at once, as the index learns of it.
    if (type === 'retry') {
      if (pending && typeof detail.delayMs === 'number' && Number.isFinite(detail.delayMs) && detail.delayMs >= 0) {
        pending.last = { ...(typeof detail.status === 'number' && { status: detail.status }), ...(typeof detail.error === 'string' && { error: detail.error }) };
        index.wait(pending, c.waitsFrom() + detail.delayMs, message.cause === 'network' ? 'network' : 'server');
        changed = true;
      }
      c.emit(type, { ...detail, remote: true });
      c.emit('change');
      continue;
    }
    // Held where it is (its group behind it) until the store says: gone, it leaves; stored, it goes on in its place.
    if (pending) index.park(pending);
    changed = pending !== undefined || changed;
    c.checks.heard(entry ?? String(known.seq), type, detail);
  }
  if (changed) c.kick();
}

/** Whether `entry` is an entry id as handles relay it: a queue entry's decimal id. */
function isEntry(entry: unknown): entry is string {
  return typeof entry === 'string' && /^\d{1,16}$/.test(entry);
}

/** The task another handle speaks of: by its entry, or (from a handle of an earlier version) the first with its id. */
function spokenOf(index: PendingIndex, entry: string | undefined, id: string | undefined): Pending | undefined {
  if (entry === '') return undefined;
  return entry !== undefined ? index.get(Number(entry)) : index.withId(id ?? '')[0];
}

/** As `spokenOf`, unless this handle has it in flight. */
function relayedTask(index: PendingIndex, entry: string | undefined, id: string | undefined): Pending | undefined {
  const pending = spokenOf(index, entry, id);
  return pending?.state === 'busy' ? undefined : pending;
}

/** Another handle gave tasks back untried: those this handle waits on for that handle's lease may go now. */
function released(c: HearingContext, detail: object): boolean {
  const { ids, entries } = detail as { ids?: unknown; entries?: unknown };
  // By entry; from a handle of an earlier version, by task id.
  const byEntry = Array.isArray(entries);
  const named: unknown[] = byEntry ? entries : Array.isArray(ids) ? ids : [];
  let freed = false;
  for (const name of named) {
    if (typeof name !== 'string') continue;
    const pending = relayedTask(c.index, byEntry ? name : undefined, name);
    if (pending?.state !== 'waiting' || pending.cause !== 'lease') continue;
    c.index.ready(pending);
    freed = true;
  }
  return freed;
}

/**
 * Another handle removed tasks (`remove`): they leave the index at once, so that nothing here sends them (a page
 * hiding sends what its index holds, without asking the queue). No event but 'change': a removal is the caller's own.
 */
function removed(c: HearingContext, detail: object): boolean {
  const { entries } = detail as { entries?: unknown };
  let gone = false;
  for (const entry of Array.isArray(entries) ? entries : []) {
    if (typeof entry !== 'string') continue;
    const pending = isEntry(entry) ? relayedTask(c.index, entry, undefined) : undefined;
    if (!pending) continue;
    c.index.remove(pending);
    // Still stored (a stray message, a removal that did not commit): read back (see `RelayChecks`).
    c.checks.heard(entry, undefined, detail);
    gone = true;
  }
  if (gone) c.emit('change');
  return gone;
}
