import type { Lease } from '../core/queue-types.js';
import { ackLater } from './ack-later.js';
import type { DeliveryContext } from './delivery.js';
import { relearn } from './gone.js';
import type { Delivered } from './settle.js';
import type { StoredTask } from './task.js';

/**
 * Acks tasks that left by a response, says so, then deletes their bodies; never rejects (a failed commit is one 'error').
 * False when the ack failed, or left some to another handle: those tasks are not told sent (yet).
 */
export async function acknowledge(c: DeliveryContext, delivered: readonly Delivered[], lease: Lease<StoredTask>): Promise<boolean> {
  // Mostly one unit of one task: flatMap costs several times more, on every response.
  const ids = delivered.length === 1 ? delivered[0]!.ids : delivered.flatMap((d) => d.ids);
  let left: ReadonlySet<string>;
  try {
    left = await c.acks.add(ids, lease);
  } catch {
    // Not acked (told once for the whole commit, see `AckBatcher`): held until the lease ends, then sent again with the
    // same Idempotency-Key, unless the ack tried again meanwhile lands (see `ackLater`).
    holdUntilExpiry(c, ids, lease, true);
    ackLater(c, ids, lease, async () => await told(c, delivered));
    return false;
  }
  const back = left.size === 0 ? undefined : delivered.filter((d) => d.ids.some((id) => left.has(id)));
  if (back?.[0]) await takenBack(c, back, lease);
  // Awaited only when there are bodies to delete: a turn of the microtask queue less on every response.
  const deleting = told(c, back?.[0] ? delivered.filter((d) => !back.includes(d)) : delivered);
  if (deleting) await deleting;
  return !back?.[0];
}

/**
 * Units whose ack left tasks to another handle, which took them back from this one (judged gone while alive: see
 * `NOT_OTHERS`): its to send again in their groups' order, and to tell. Not told sent here, their bodies kept (that
 * handle sends them), the index learns where they are: held there, its group waiting; gone (a batch's others, acked).
 */
async function takenBack(c: DeliveryContext, back: readonly Delivered[], lease: Lease<StoredTask>): Promise<void> {
  const ids = back.flatMap((d) => d.ids);
  try {
    relearn(c.index, ids.flatMap((id) => c.index.get(Number(id)) ?? []), await c.queue.list({ ids }));
  } catch (error) {
    c.emit('error', { error });
    holdUntilExpiry(c, ids, lease);
  }
}

/** Says `delivered` left ('sent' events), then deletes their bodies (a promise of that, if any); never rejects. */
function told(c: DeliveryContext, delivered: readonly Delivered[]): Promise<void> | undefined {
  const failed = (error: unknown): void => c.emit('error', { error });
  try {
    for (const d of delivered) d.tell();
    // Bodies after their tasks: a crash between leaves a body nothing names, which a later open deletes.
    const bodies = delivered.length === 1 ? delivered[0]!.bodies : delivered.flatMap((d) => d.bodies);
    if (bodies.length > 0) return c.bodies.delete(bodies).then(() => undefined, failed);
  } catch (error) {
    failed(error);
  }
  return undefined;
}

/**
 * Has this handle's tasks `ids`, held as in flight, wait for `lease` to end instead: they go again after it. `acking`:
 * their ack is made again meanwhile, which only tasks still held here for it may tell sent (see `PendingIndex.wait`).
 */
export function holdUntilExpiry(c: Pick<DeliveryContext, 'index'>, ids: readonly string[], lease: Lease<StoredTask>, acking = false): void {
  for (const id of ids) {
    const pending = c.index.get(Number(id));
    if (pending?.state === 'busy') c.index.wait(pending, lease.expiresAt, 'lease', acking);
  }
}
