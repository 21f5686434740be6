// A workaround, until the outbox does this itself (see the README's Demo section).
//
// A tab that closes while it holds tasks (a request in flight, or the tasks of its group taken with it) leaves
// them leased to itself until the lease runs out: the outbox's `timeoutMs` plus a minute. A handle that is open
// when the tab closes takes them back at once (the store sees, by the tab's Web Lock, that it is gone), but an
// outbox opened afterwards takes them for tasks in flight elsewhere and waits the lease out: a note written before
// closing the tab would wait over a minute after the app is opened again. So before the outbox opens, the queue that
// holds its tasks (the queue of the outbox's name) is asked for exactly those leased tasks: the ones whose holder
// is gone come back, and are put back in their place at once; those a live tab or worker holds are left alone.
import { Queue } from 'sluice';

export async function reclaimFromClosedTabs(outboxName: string): Promise<number> {
  const queue = await Queue.open<unknown>({ name: outboxName });
  try {
    const leased = (await queue.list()).filter((entry) => entry.state === 'leased').map((entry) => entry.id);
    if (leased.length === 0) return 0;
    const lease = await queue.take(leased.length, { ids: leased, leaseMs: 10_000 });
    if (!lease) return 0;
    await lease.release();
    return lease.entries.length;
  } finally {
    await queue.close();
  }
}
