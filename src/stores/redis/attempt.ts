import type { SluiceError } from '../../core/errors.js';
import { storageError as translate } from '../../core/storage-errors.js';

/** Redis error replies that mean "not now" rather than "never": a restarted server, a cluster failing over. */
const PASSING = /^(LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/;

/** What a client's `status` is once it will never reconnect (closed by its owner): retrying cannot help then. */
const ENDED = 'end';

/**
 * Runs `call` until it succeeds, retrying what a lost connection or a failover makes fail (with backoff, for at
 * most `retryMs`), and turns the final failure into a `SluiceError`. Only idempotent calls come here: reads, and
 * commits (a commit's script recognises its own replay, see scripts.ts).
 */
export async function attempt<T>(what: string, retryMs: number, status: () => string, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + retryMs;
  for (let tries = 0; ; tries++) {
    try {
      return await call();
    } catch (error) {
      if (!passing(error) || status() === ENDED || Date.now() >= deadline) throw storageError(what, error);
      await sleep(Math.min(50 * 2 ** tries, 1000, Math.max(0, deadline - Date.now())));
    }
  }
}

/** True for failures worth another try: anything but an error reply from the server, or a passing reply. */
function passing(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true;
  return PASSING.test(error.message);
}

/** The error a store call rejects with (see the core's `storageError`): out of memory is a quota. */
export function storageError(what: string, error: unknown): SluiceError {
  return translate(error, `Redis failed to ${what}:`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
