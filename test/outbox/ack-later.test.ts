import { describe, expect, it, vi } from 'vitest';
import { IN_DOUBT } from '../../src/core/part-lease.js';
import { ackLater } from '../../src/outbox/ack-later.js';
import { Gone } from '../../src/outbox/gone.js';
import type { Pending } from '../../src/outbox/pending.js';
import { FakeClock } from '../support/fake-clock.js';

/** A delivered task (entry 7) whose ack failed, waiting here for its lease; `doubt` says the lease is in doubt. */
function rig() {
  const clock = new FakeClock();
  const tasks = new Map<number, Partial<Pending>>([[7, { seq: 7, id: 'a', state: 'waiting', cause: 'lease' }]]);
  const index = { get: (seq: number) => tasks.get(seq), gone: new Gone() };
  const c = { options: { clock }, index, kick: () => undefined } as unknown as Parameters<typeof ackLater>[0];
  const state = { doubt: false };
  const ack = vi.fn(async () => undefined);
  const lease = { expiresAt: clock.now() + 90_000, ack, release: vi.fn(), [IN_DOUBT]: () => state.doubt } as unknown as Parameters<typeof ackLater>[2];
  const landed = vi.fn(async () => undefined);
  /** The index reads the queue and finds the task gone (another handle's doing, as far as it knows). */
  const foundGone = (seq: number) => {
    const pending = tasks.get(seq) as Pending;
    tasks.delete(seq);
    index.gone.add([pending]);
  };
  return { clock, tasks, index, c, state, ack, lease, landed, foundGone };
}

describe('ackLater', () => {
  // Before, it gave up at the first look that found the lease in doubt (a Redis handle's heartbeat unconfirmed for a
  // moment after any outage): the task went again after its lease, behind the later tasks of its group, which had been
  // acked meanwhile, so its last 2xx came after theirs.
  it('waits while the lease is in doubt, then acks by the lease and tells the task sent', async () => {
    const r = rig();
    r.state.doubt = true;
    ackLater(r.c, ['7'], r.lease, r.landed);
    r.clock.advance(500);
    r.clock.advance(1_000);
    expect(r.ack).not.toHaveBeenCalled();
    r.state.doubt = false;
    r.clock.advance(2_000);
    expect(r.ack).toHaveBeenCalledWith(['7']);
    await vi.waitFor(() => expect(r.landed).toHaveBeenCalledOnce());
  });

  // Before, found gone it stopped without a word: the task left the outbox with no 'sent' and no 'dead' event.
  it('tells the task sent when it was found gone from the queue meanwhile (the ack that seemed to fail landed)', async () => {
    const r = rig();
    ackLater(r.c, ['7'], r.lease, r.landed);
    r.foundGone(7);
    r.clock.advance(500);
    await vi.waitFor(() => expect(r.landed).toHaveBeenCalledOnce());
    expect(r.ack).not.toHaveBeenCalled();
    // Said here: another handle's word on it, should it come, is not said again.
    expect(r.index.gone.said(7, 'a')).toBe(false);
  });

  // Before, a late timer (a machine asleep) told it sent though another handle may have taken it since, sent it again
  // and buried it; and a batch found gone in part spent the marks of some, whose word was then never said.
  it('leaves the word to the other handles when found gone after the lease ended, or only some of its tasks found gone', async () => {
    const r = rig();
    ackLater(r.c, ['7'], r.lease, r.landed);
    r.foundGone(7);
    r.clock.step(90_000);
    r.clock.advance(500);
    await Promise.resolve();
    expect(r.landed).not.toHaveBeenCalled();
    expect(r.index.gone.said(7, 'a')).toBe(true);

    const s = rig();
    s.tasks.set(8, { seq: 8, id: 'b', state: 'waiting', cause: 'lease' });
    ackLater(s.c, ['7', '8'], s.lease, s.landed);
    const [a, b] = [s.tasks.get(7) as Pending, s.tasks.get(8) as Pending];
    s.tasks.delete(7);
    s.tasks.delete(8);
    s.index.gone.add([a]);
    s.clock.advance(500);
    await Promise.resolve();
    expect(s.landed).not.toHaveBeenCalled();
    expect([s.index.gone.said(7, 'a'), b.id]).toEqual([true, 'b']);
  });

  it('stops, telling nothing, when the task is gone but not found gone (taken out by this handle, or its entry reused)', async () => {
    const r = rig();
    ackLater(r.c, ['7'], r.lease, r.landed);
    r.tasks.delete(7);
    r.clock.advance(500);
    r.clock.advance(60_000);
    await Promise.resolve();
    expect([r.ack.mock.calls.length, r.landed.mock.calls.length]).toEqual([0, 0]);
  });
});
