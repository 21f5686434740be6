import { describe, SluiceError } from '../core/errors.js';
import { backoffDelay } from './backoff.js';
import type { Classify } from './classify.js';
import type { DeadReason } from './dead-letters.js';
import type { RetryOptions } from './options.js';
import { parseRetryAfter } from './retry-after.js';
import { isNetworkError } from './send.js';
import type { HttpTask } from './task.js';

/**
 * The id under which a service worker's outbox stored the request, when `response` is its answer for the network
 * (`Outbox.fetch` answers 202 with 'Sluice-Queued'): the task is handed over, not sent.
 */
export function handedOver(response: Response): string | undefined {
  return response.status === 202 ? (response.headers.get('sluice-queued') ?? undefined) : undefined;
}

/** What becomes of the tasks of one attempt. */
export type Verdict =
  | { readonly kind: 'sent' }
  /** Tried again after `delayMs`; `cause` 'network' when no response came (a success elsewhere ends the wait). */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly cause: 'network' | 'server' }
  | { readonly kind: 'dead'; readonly reason: DeadReason };

/** The rules a verdict follows: `OutboxOptions.classify` and `retry`, and the jitter's source. */
export interface Policy {
  readonly classify: Classify;
  readonly retry: Required<RetryOptions>;
  readonly random: () => number;
}

/**
 * The verdict on an attempt that ended in `outcome`, for tasks that have now been tried `attempts` times and
 * whose oldest was first enqueued at `createdAt`. Pure, so the policy is tested without a network: `classify`
 * decides sent, retry or dead; a retry past `maxAttempts` or `maxAgeMs` is dead; a retry waits as long as
 * `Retry-After` asks (dead at once when that wait would end past `maxAgeMs`), else (or when it asks for none) a
 * full-jitter backoff.
 */
export function verdictFor(
  outcome: Response | Error,
  task: HttpTask,
  policy: Policy,
  attempt: { readonly attempts: number; readonly createdAt: number; readonly now: number },
): Verdict {
  const decided: unknown = policy.classify(outcome, task);
  if (decided === 'sent') return { kind: 'sent' };
  if (decided === 'dead') return { kind: 'dead', reason: outcome instanceof Error ? 'network' : 'status' };
  // Taken for 'retry', a classify that forgot a `return` (or is async) would retry every task for ever, unseen.
  if (decided !== 'retry') {
    throw new SluiceError(
      'ERR_INVALID_OPTION',
      `Expected \`classify\` to return 'sent', 'retry' or 'dead', got ${decided instanceof Promise ? 'a Promise (classify decides synchronously, from the status and headers)' : describe(decided)}. The task stays pending.`,
    );
  }
  const { retry } = policy;
  if (attempt.attempts >= retry.maxAttempts) return { kind: 'dead', reason: 'max-attempts' };
  // Expired while its request was out: no retry could deliver it, and its wait must not outlast `expiresAt`.
  if (task.expiresAt !== undefined && task.expiresAt <= attempt.now) return { kind: 'dead', reason: 'expired' };
  const asked = outcome instanceof Error ? undefined : parseRetryAfter(outcome.headers.get('retry-after'), attempt.now, outcome.headers.get('date'));
  // Past its age limit now, or when the wait a server asks for would end: given up now, not at the next attempt.
  if (attempt.now + (asked ?? 0) - attempt.createdAt >= retry.maxAgeMs) return { kind: 'dead', reason: 'max-age' };
  return {
    kind: 'retry',
    // No wait at all (0, a date already past) is no wait to keep to: taken at its word, a server that says so on every
    // 503 would be sent a request a turn, while it is down. The backoff applies then.
    delayMs: asked || backoffDelay(retry, attempt.attempts, policy.random),
    cause: asked === undefined && isNetworkError(outcome) ? 'network' : 'server',
  };
}
