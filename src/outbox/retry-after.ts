/**
 * The longest wait a `Retry-After` header gets: a hundred years. A wait must be a finite time (a task that waits
 * for ever is stuck); 400 digits of seconds read as Infinity.
 */
const LONGEST_MS = 100 * 365 * 24 * 3600_000;

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d\\d:\\d\\d:\\d\\d';
/** "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994". */
const HTTP_DATE = new RegExp(
  `^(?:${DAY}, \\d\\d ${MONTH} \\d{4} ${TIME} GMT|[A-Z][a-z]+day, \\d\\d-${MONTH}-\\d\\d ${TIME} GMT|${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4})$`,
);

/**
 * The delay a `Retry-After` header asks for, in ms from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3), at
 * most a hundred years. `undefined` when the header is absent or unreadable, so the computed backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, LONGEST_MS);
  // Only the three date forms of HTTP (IMF-fixdate, RFC 850, asctime): Date.parse alone reads "5.5", "next 2027" or
  // "May 2026" as dates, and a header that says nothing usable would make the task wait for months, or go dead.
  if (!HTTP_DATE.test(text)) return undefined;
  const at = Date.parse(text.endsWith('GMT') ? text : `${text} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), LONGEST_MS);
}
