import type { Lease } from '../core/queue-types.js';
import type { Entry } from './delivery.js';
import type { Pending } from './pending.js';
import type { StoredTask } from './task.js';

/** Per lease, the entries `recall` took back from it before their request started. */
const recalled = new WeakMap<Lease<StoredTask>, Set<string>>();

/** The entries of `entries` (of `lease`) that `recall` has not taken back: what its unit may still send or give back. */
export function unrecalled(entries: Entry[], lease: Lease<StoredTask>): Entry[] {
  const gone = recalled.get(lease);
  return gone ? entries.filter((e) => !gone.has(e.id)) : entries;
}

/**
 * Gives back, untried, the tasks of `pending` that this handle took ahead of their request (behind their lane's head
 * in flight, or buffered for a free slot), so that `remove`, a newer task with the same key and 'drop-oldest' deal
 * with them as the pending tasks they are: no request is out for them. Their units pass them over, and a unit that
 * reaches one still pending (its removal failed, or is not committed yet) stops there, so its lane's order holds.
 * Should the release fail, they stay leased until the lease ends (`giveBack`), and are not removed.
 */
export async function recall(pending: readonly Pending[], putBack: (entries: Entry[], lease: Lease<StoredTask>) => Promise<void>): Promise<void> {
  const byLease = new Map<Lease<StoredTask>, Set<string>>();
  for (const p of pending) {
    if (p.state !== 'busy' || !p.ahead) continue;
    const ids = byLease.get(p.ahead) ?? new Set<string>();
    byLease.set(p.ahead, ids.add(String(p.seq)));
    p.ahead = undefined;
  }
  for (const [lease, ids] of byLease) {
    // Marked before the release is awaited: a chain that reaches one meanwhile must not send it.
    const gone = recalled.get(lease) ?? new Set<string>();
    for (const id of ids) gone.add(id);
    recalled.set(lease, gone);
    await putBack(lease.entries.filter((e) => ids.has(e.id)), lease);
  }
}
