// What the page and the service worker share: one outbox (same name, same store: the default IndexedDB database
// "sluice"), opened with the same options in both.
import type { OutboxOptions } from 'sluice';

/** The Background Sync tag the worker answers and the page registers. */
export const SYNC_TAG = 'field-notes';

/** The group every task is in: notes reach the server in the order they were written, each photo after its note. */
export const GROUP = 'notes';

/** The outbox's name (its pending tasks are the queue of that name, its dead letters `field-notes.dead`). */
export const OUTBOX = 'field-notes';

export function outboxOptions(origin: string): OutboxOptions {
  return {
    name: OUTBOX,
    baseUrl: origin,
    // Quick retries, so that a demo shows them: at most 10 s apart (full jitter below that). No `maxAttempts`: a
    // note is worth keeping until the server takes it or refuses it (a 4xx sends it to the dead letters).
    retry: { initialDelayMs: 1_000, maxDelayMs: 10_000 },
    timeoutMs: 15_000,
  };
}
