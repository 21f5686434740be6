import type { HttpTask } from './task.js';

/** What to do with a task after an attempt. */
export type Verdict = 'sent' | 'retry' | 'dead';

/** Decides from a response or a failure whether a task is done, tried again, or dead. */
export type Classify = (outcome: Response | Error, task: HttpTask) => Verdict;

/** Statuses worth trying again: the server asks for it (408, 425, 429) or failed on its side (5xx). */
const RETRY_STATUSES = new Set([408, 425, 429]);

/**
 * The default policy: 2xx sent; 408, 425, 429, 5xx, network errors and timeouts retried; any other status dead
 * (a 400 will fail the same way every time, and retrying it forever is how queues silently clog).
 */
export const defaultClassify: Classify = (outcome) => {
  if (outcome instanceof Error) return 'retry';
  if (outcome.status >= 200 && outcome.status < 300) return 'sent';
  if (RETRY_STATUSES.has(outcome.status) || (outcome.status >= 500 && outcome.status < 600)) return 'retry';
  return 'dead';
};
