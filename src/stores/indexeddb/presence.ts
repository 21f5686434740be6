import { storageError } from '../../core/storage-errors.js';
import type { Connection } from './connection.js';
import { abort, completion, recordsOf, refusedAfterQuota, result, settle } from './requests.js';
import type { Head } from './schema.js';

// Whether a queue was ever opened (`Store.exists`), which is what tells an outbox's queues from a Queue's: an outbox
// opens its dead letters `x.dead` first and may never write to them. A queue's storage writes nothing until its first
// commit, so its open leaves a mark of its own: a head at version 0, as a queue that has none reads anyway. It lives
// among the heads rather than in an object store of its own, which would take a new schema version, and every tab
// still running the current one would fail to open the database. Nothing that reads the heads tells it from no head:
// the token reads version 0 either way (no handle's view goes stale), its `tail` is unrecorded, as it is where there is
// no head; a commit replacing the head deletes `[queue, 0]` and adds the next one, as ever; a head put by a writer lock
// going (`[queue, version]`) replaces it. The upgrade from version 1 walks the heads, but only as it makes version 2,
// before any mark was made. The other object stores are keyed or read by ranges over `[queue, …]` (`meta` by the
// name): a mark there would be read as data or metadata.

/**
 * Records that the queue `name` was opened, unless the database holds it already: one readonly transaction, and one
 * small readwrite one for a queue never seen before. Two tabs opening a new queue at once both add the mark: the
 * one that comes second finds it there (a ConstraintError, of the key or of the heads' unique index, which also
 * refuses it beside another handle's head), and the open goes on.
 */
export async function markOpened(connection: Connection, name: string): Promise<void> {
  // A later open of the queue on this connection reads and writes nothing.
  const names = (connection.marked ??= new Set());
  if (names.has(name)) return;
  try {
    if (!(await holds(connection.db, name))) await mark(connection.db, name);
  } catch (error) {
    const failed = storageError(connection.lost ?? error, `Cannot open queue "${name}" in IndexedDB.`);
    // A full quota leaves the queue unmarked, and opens it: an outbox must open to deliver what frees the space (its
    // dead letters, never written by an earlier sluice, are marked here first). Tried again at the next open.
    if (failed.code === 'ERR_QUOTA_EXCEEDED') return;
    throw failed;
  }
  names.add(name);
}

async function mark(db: IDBDatabase, name: string, again = true): Promise<void> {
  let tx: IDBTransaction | undefined;
  try {
    tx = db.transaction('heads', 'readwrite', { durability: 'relaxed' });
    tx.objectStore('heads').add({ queue: name, version: 0 } satisfies Head, [name, 0]);
    settle(tx);
    await completion(tx);
  } catch (error) {
    if (tx) abort(tx);
    if ((error as { name?: string } | null)?.name === 'ConstraintError') return;
    // Firefox refuses the first write after one a full quota aborted (see `refusedAfterQuota`).
    if (again && refusedAfterQuota(error)) return mark(db, name, false);
    throw error;
  }
}

/**
 * Whether `db` holds the queue `name`: its mark or its head, or any record an earlier sluice left, which marked
 * nothing (a queue it opened and never wrote to left no trace, and reads as never opened).
 */
export async function holds(db: IDBDatabase, name: string): Promise<boolean> {
  const tx = db.transaction(['heads', 'meta', 'segments', 'chunks'], 'readonly');
  const found = Promise.all([
    result(tx.objectStore('heads').index('queue').openKeyCursor(name)),
    result(tx.objectStore('meta').openKeyCursor(name)),
    result(tx.objectStore('segments').openKeyCursor(recordsOf(name))),
    result(tx.objectStore('chunks').openKeyCursor(recordsOf(name))),
  ]);
  settle(tx);
  return (await found).some((cursor) => cursor !== null);
}

/**
 * Whether the platform lists a database `dbName` (true where it cannot list them: `databases()` came to Firefox in
 * version 126), so that none is made only to be looked into.
 */
export async function listed(factory: IDBFactory | undefined, dbName: string): Promise<boolean> {
  return typeof factory?.databases !== 'function' || (await factory.databases()).some((db) => db.name === dbName);
}
