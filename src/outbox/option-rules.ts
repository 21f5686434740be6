import { describe, SluiceError } from '../core/errors.js';
import { checkName } from '../core/options.js';
import { partOf } from '../core/partitioned.js';
import { keyHeaderRule } from './key-header.js';
import { atLeast, duration, finiteFrom, integer, isBoolean, isClock, isFunction, limit, oneOf, optional, withMethods, type Rule } from '../core/validate.js';

/** What each option of an outbox must be: the rules `resolveOutboxOptions` checks them by. */

/** An http(s) URL, absolute or relative to `base`. */
export const httpUrl = (base: string | undefined): Rule => [
  base ? `an http(s) URL, absolute or relative to ${base}` : 'an absolute http(s) URL',
  (v) => {
    try {
      return /^https?:$/.test(new URL(v as string, base).protocol);
    } catch {
      return false;
    }
  },
];

// Finite: a delay grown past any number (a factor or ceiling of Infinity) would be no retry at all.
export const RETRY_RULES = { initialDelayMs: duration(0), maxDelayMs: duration(0), factor: finiteFrom(1), maxAttempts: limit(1), maxAgeMs: atLeast(1) };
export const LIMIT_RULES = { maxTasks: limit(1), maxBytes: limit(1), overflow: oneOf('reject', 'drop-oldest') };
export const RULES = {
  concurrency: integer(1),
  ordering: oneOf('group', 'fifo', 'none'),
  // Finite: it bounds `flush`, `stop` and `close`, and the queue's leases are it plus a minute.
  timeoutMs: duration(1),
  redirect: oneOf('error', 'follow-same-origin'),
  maxBodyBytes: integer(1),
  durability: oneOf('strict', 'relaxed'),
  corruption: oneOf('throw', 'skip'),
  unloadFlush: isBoolean,
  fetch: optional(isFunction),
  headers: optional(isFunction),
  classify: isFunction,
  onBeforeSend: optional(isFunction),
  random: isFunction,
  clock: isClock,
  // `online` is read as it is (only false holds sending back): a function or a string there is a slip.
  connectivity: optional(['an object with subscribe (and online, if any, a boolean)', (v) => withMethods('subscribe')[1](v) && ['undefined', 'boolean'].includes(typeof (v as { online?: unknown }).online)]),
  page: optional(withMethods('addEventListener')),
  partitions: integer(1, 8192),
  idempotencyHeader: keyHeaderRule,
};

/** A queue name short enough that its dead letters' queue, `<name>.dead`, is one too. */
export function checkOutboxName(name: unknown): asserts name is string {
  // Not a partitioned queue's part (`<name>.p<number>`, `<name>.pm`) either, as a queue's name may not be, nor another
  // outbox's dead letters: opened while those are empty, the two would write tasks and letters into one queue.
  let valid = typeof name === 'string' && name.length <= 123 && partOf(name) === undefined && !name.toLowerCase().endsWith('.dead');
  try {
    if (valid) checkName(name);
  } catch {
    valid = false;
  }
  // Told as an outbox's name: the queue's rule, less the room its dead letters take.
  if (!valid) {
    throw new SluiceError(
      'ERR_INVALID_NAME',
      `Expected an outbox's \`name\` to be 1–123 characters of [A-Za-z0-9._-] (not "." or "..", not ending in .p<number>, .pm or .dead; its dead letters take \`<name>.dead\`), got ${describe(name)}.`,
    );
  }
}

/** Every option an outbox takes: one not among them is refused, as a misspelling that would do nothing. */
export const OUTBOX_OPTIONS = ['name', 'store', 'baseUrl', 'retry', 'limits', 'batch', ...Object.keys(RULES)];
