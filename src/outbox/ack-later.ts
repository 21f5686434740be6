import { inDoubt } from '../core/part-lease.js';
import type { Lease } from '../core/queue-types.js';
import type { DeliveryContext } from './delivery.js';
import type { StoredTask } from './task.js';

/** The first wait before a failed ack is tried again; doubled at each failure, up to `LONGEST_WAIT_MS`. */
const FIRST_WAIT_MS = 500;
const LONGEST_WAIT_MS = 8000;

/**
 * Per lease, the acks made again here, in the order they failed: only the first is made, so that a later task of a
 * group is never acked while an earlier one's ack is owed (landing alone, it would leave the earlier task to go again
 * after it, its last 2xx after theirs). One given up gives up those behind it, and those that come later (`GIVEN_UP`):
 * their tasks go again after it.
 */
const owed = new WeakMap<object, object[]>();
const GIVEN_UP: object[] = [];

/** Whether an ack of `lease`'s tasks failed and is made again, or was given up: a later one joins the line (see `acknowledge`). */
export function owes(lease: object): boolean {
  const line = owed.get(lease);
  return line === GIVEN_UP || (line?.length ?? 0) > 0;
}

/**
 * Tries the ack of delivered tasks again, in the background, while `lease` holds them here: their responses are in,
 * and a store that failed for a moment (a disk read-only for a second, a connection lost) would otherwise hold them,
 * and the tasks behind them in their group, until the lease ends, then send them again. Once it lands, `landed` says
 * them sent, and delivery goes on. Acked by the lease, never by id: once it ended (a clock stepped, a process
 * stopped), another handle may hold them with its request out, and the ack is refused. It stops then, when the lease
 * ends, when the tasks are no longer held here for it (taken back), or when the outbox closed; while the lease is in
 * doubt (its owner's heartbeat not confirmed lately) it waits, as given up the tasks would go again after the later
 * ones of their group, and so it does behind the lease's acks owed before it (see `owed`). Its timer never keeps a
 * process alive. `release`, for a retry whose delay could not be stored, is that release, made again in place of the ack.
 */
export function ackLater(
  c: Pick<DeliveryContext, 'options' | 'index' | 'kick'>,
  ids: readonly string[],
  lease: Lease<StoredTask>,
  landed: () => Promise<void>,
  release?: () => Promise<void>,
): void {
  const turn = {};
  const line = owed.get(lease);
  if (!release && line !== GIVEN_UP) owed.set(lease, [...(line ?? []), turn]);
  retry(c, ids, lease, landed, FIRST_WAIT_MS, release, turn);
}

function retry(
  c: Pick<DeliveryContext, 'options' | 'index' | 'kick'>,
  ids: readonly string[],
  lease: Lease<StoredTask>,
  landed: () => Promise<void>,
  waitMs: number,
  release: (() => Promise<void>) | undefined,
  turn: object,
): void {
  const { clock } = c.options;
  const again = () => retry(c, ids, lease, landed, Math.min(waitMs * 2, LONGEST_WAIT_MS), release, turn);
  const done = (ok: boolean) => {
    const line = owed.get(lease) ?? [];
    if (line.includes(turn)) owed.set(lease, ok ? line.filter((t) => t !== turn) : GIVEN_UP);
    if (ok) void landed().then(() => c.kick());
  };
  if (clock.now() + waitMs >= lease.expiresAt) return done(false);
  const timer = clock.setTimeout(() => {
    const line = release ? [turn] : (owed.get(lease) ?? []);
    // Given up behind an ack given up before it: its tasks go again after that one's.
    if (!line.includes(turn)) return;
    // Found gone from the queue: the ack that seemed to fail landed after all (its reply lost, the client sending it
    // again as it reconnected), or another handle sent them; either way their response was a success: told sent.
    if (!release && ids.every((id) => c.index.get(Number(id)) === undefined) && ids.every((id) => c.index.gone.take(Number(id)))) return done(true);
    const held = ids.every((id) => {
      const pending = c.index.get(Number(id));
      return pending?.state === 'waiting' && pending.cause === 'lease';
    });
    if (!held || clock.now() >= lease.expiresAt) return done(false);
    if (inDoubt(lease) || line[0] !== turn) return again();
    (release ?? (() => lease.ack(ids)))().then(
      () => done(true),
      (error: unknown) => {
        const code = (error as { code?: unknown } | null)?.code;
        if (code !== 'ERR_CLOSED' && code !== 'ERR_LEASE_EXPIRED') again();
        else done(false);
      },
    );
  }, waitMs);
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
