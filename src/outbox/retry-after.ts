/**
 * The delay a `Retry-After` header asks for, in ms from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * `undefined` when the header is absent or unreadable, so the computed backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only the date forms: Date.parse alone would read "5.5" or "1 2" as dates.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
