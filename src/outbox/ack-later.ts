import { inDoubt } from '../core/part-lease.js';
import type { Lease } from '../core/queue-types.js';
import type { DeliveryContext } from './delivery.js';
import type { StoredTask } from './task.js';

/** The first wait before a failed ack is tried again; doubled at each failure, up to `LONGEST_WAIT_MS`. */
const FIRST_WAIT_MS = 500;
const LONGEST_WAIT_MS = 8000;

/**
 * Tries the ack of delivered tasks again, in the background, while `lease` holds them here: their responses are in,
 * and a store that failed for a moment (a disk read-only for a second, a connection lost) would otherwise hold them,
 * and the tasks behind them in their group, until the lease ends, then send them again. Once it lands, `landed` says
 * them sent, and delivery goes on. Acked by the lease, never by id: once it ended (a clock stepped, a process
 * stopped), another handle may hold them with its request out, and the ack is refused. It stops then, when the lease
 * ends, when the tasks are no longer held here for it (taken back), or when the outbox closed; while the lease is in
 * doubt (its owner's heartbeat not confirmed lately) it waits, as given up the tasks would go again after the later
 * ones of their group. Its timer never keeps a process alive. `release`, for a retry whose delay could not be stored,
 * is that release, made again in place of the ack.
 */
export function ackLater(
  c: Pick<DeliveryContext, 'options' | 'index' | 'kick'>,
  ids: readonly string[],
  lease: Lease<StoredTask>,
  landed: () => Promise<void>,
  waitMs = FIRST_WAIT_MS,
  release?: () => Promise<void>,
): void {
  const { clock } = c.options;
  if (clock.now() + waitMs >= lease.expiresAt) return;
  c.index.gone.owed++;
  const timer = clock.setTimeout(() => {
    c.index.gone.owed--;
    // Found gone from the queue within the lease: the ack that seemed to fail landed after all (its reply lost, the
    // client sending it again as it reconnected). Past the lease, another handle may have sent or buried them: its word.
    const live = clock.now() < lease.expiresAt;
    if (live && !release && ids.every((id) => c.index.get(Number(id)) === undefined) && c.index.gone.takeAll(ids.map(Number))) {
      return void landed().then(() => c.kick());
    }
    const held = ids.every((id) => {
      const pending = c.index.get(Number(id));
      return pending?.state === 'waiting' && pending.cause === 'lease';
    });
    if (!held || !live) return;
    if (inDoubt(lease)) return ackLater(c, ids, lease, landed, Math.min(waitMs * 2, LONGEST_WAIT_MS), release);
    (release ?? (() => lease.ack(ids)))().then(
      () => landed().then(() => c.kick()),
      (error: unknown) => {
        const code = (error as { code?: unknown } | null)?.code;
        if (code !== 'ERR_CLOSED' && code !== 'ERR_LEASE_EXPIRED') ackLater(c, ids, lease, landed, Math.min(waitMs * 2, LONGEST_WAIT_MS), release);
      },
    );
  }, waitMs);
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
