import { type Channel, channel } from 'node:diagnostics_channel';

/**
 * What the `sluice:fs:lock` diagnostics channel publishes once per hold of a queue directory's lock (one commit or
 * load), after it is released: how long the handle waited for the lock and how long it held it. Subscribe with
 * `diagnostics_channel.subscribe('sluice:fs:lock', (message) => …)` to see how much time processes sharing a queue
 * spend waiting for each other. Nothing is measured while nobody subscribes.
 */
export interface LockTiming {
  /** The queue's directory. */
  readonly dir: string;
  /** From asking for the lock to holding it, in milliseconds. */
  readonly waitMs: number;
  /** From taking the lock to giving it up, in milliseconds. */
  readonly holdMs: number;
}

let lock: Channel | undefined;

/** The channel, made on first use: nothing is registered at import time. */
export function lockChannel(): Channel {
  return (lock ??= channel('sluice:fs:lock'));
}
