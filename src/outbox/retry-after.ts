import { LONGEST_MS } from '../core/validate.js';

// The longest wait a `Retry-After` header gets is the longest duration any option takes, a hundred years. A wait must
// be a finite time (a task that waits for ever is stuck); 400 digits of seconds read as Infinity.

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d\\d:\\d\\d:\\d\\d';
/** "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994". */
const HTTP_DATE = new RegExp(
  `^(?:${DAY}, \\d\\d ${MONTH} \\d{4} ${TIME} GMT|[A-Z][a-z]+day, \\d\\d-${MONTH}-\\d\\d ${TIME} GMT|${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4})$`,
);

/**
 * The delay a `Retry-After` header asks for, in ms from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3), at
 * most a hundred years. A date is the server's clock: it is read against the response's `Date` (`date`, the same
 * clock) when that is an HTTP date too, so that a client whose clock is ahead does not find the date already past and
 * retry at once, over and over, a server that asked it to wait. `undefined` when the header is absent or unreadable,
 * so the computed backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, now: number, date?: string | null): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, LONGEST_MS);
  const at = httpDate(text);
  if (at === undefined) return undefined;
  const sent = date == null ? undefined : httpDate(date.trim());
  return Math.min(Math.max(0, at - (sent ?? now)), LONGEST_MS);
}

/**
 * `text` as epoch ms when it is one of the three date forms of HTTP (IMF-fixdate, RFC 850, asctime), else undefined:
 * Date.parse alone reads "5.5", "next 2027" or "May 2026" as dates, and a header that says nothing usable would make
 * the task wait for months, or go dead.
 */
function httpDate(text: string): number | undefined {
  if (!HTTP_DATE.test(text)) return undefined;
  const at = Date.parse(text.endsWith('GMT') ? text : `${text} GMT`);
  return Number.isNaN(at) ? undefined : at;
}
