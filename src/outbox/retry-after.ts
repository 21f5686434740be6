/**
 * The longest wait a `Retry-After` header gets: a hundred years. A wait must be a finite time (a task that waits
 * for ever is stuck); 400 digits of seconds read as Infinity.
 */
const LONGEST_MS = 100 * 365 * 24 * 3600_000;

/**
 * The delay a `Retry-After` header asks for, in ms from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3), at
 * most a hundred years. `undefined` when the header is absent or unreadable, so the computed backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, LONGEST_MS);
  // Only the date forms: Date.parse alone would read "5.5" or "1 2" as dates.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), LONGEST_MS);
}
