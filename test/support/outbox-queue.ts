import { OUTBOX_QUEUE } from '../../src/core/options.js';

/**
 * Spread into a Queue's options to open an outbox's queue as the outbox and the CLI do, not refused as an outbox's
 * (see `notAnOutboxs`): how a test looks into, or plants records in, an outbox's queues.
 */
export const outboxQueue = { [OUTBOX_QUEUE]: true } as const;
