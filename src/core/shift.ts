import { SluiceError } from './errors.js';
import type { Lease } from './queue-types.js';

/**
 * `Queue.shift`: takes one item and acks it at once. An ack that fails puts the item back, untried (the caller never
 * had it), rather than leave it leased to nobody until the lease ends; unless the item turns out to be gone, the ack
 * having landed after all (a store can fail after it stored): then it is the caller's, and resolved. The error says
 * where the item is: put back, or (that failing too) leased until when.
 */
export async function shiftOne<T>(take: () => Promise<Lease<T> | undefined>, listed: (id: string) => Promise<boolean>): Promise<T | undefined> {
  const lease = await take();
  if (!lease) return undefined;
  const { id, value } = lease.entries[0]!;
  try {
    await lease.ack();
    return value;
  } catch (error) {
    // Another lease holds the item now (this one ran out): it is that lease's.
    if (!(error instanceof Error) || (error instanceof SluiceError && error.code === 'ERR_LEASE_EXPIRED')) throw error;
    // The store may fail a look or two after failing the ack: asked again while the item is still this lease's. After
    // a release, another consumer may take and ack it, and its absence would say nothing of this ack.
    let there: boolean | undefined;
    for (let look = 0; there === undefined && look < 3; look++) there = await listed(id).catch(() => undefined);
    if (there === false) return value;
    const back = await lease.release(undefined, { untried: true }).then(
      () => true,
      () => false,
    );
    const leased = `leased until ${new Date(lease.expiresAt).toISOString()} or this handle closes`;
    const where = back ? (there ? 'put back, untried' : 'put back, untried, unless the ack landed') : there ? `not put back: ${leased}` : `acked, or not put back and ${leased} (the store could not say which: look for id ${id})`;
    error.message += ` (shift: the item was ${where})`;
    throw error;
  }
}
