/**
 * Error text the outbox keeps (dead letters, 'retry' and 'dead' events, `list()`'s `lastError`) without the values
 * of the headers sent with it: a transport's message may quote the request (undici's "Headers.append: "…" is an
 * invalid header value."), and `OutboxOptions.headers` values are secrets that must never reach storage.
 */

import { messageOf } from '../core/errors.js';
import type { StoredTask } from './task.js';

const REDACTED = '[redacted]';

/**
 * The most characters of error text the outbox keeps (README, Dead letters): a transport or a hook may throw with a
 * message of megabytes (a response body quoted whole), which would make every dead letter, event and relayed message
 * that large, and a dead letter over the store's `maxItemBytes` could never be written.
 */
export const MAX_ERROR_TEXT = 4096;

/**
 * A message for `error`, its cause's appended (fetch's "fetch failed" says why only there), without `secrets`, at
 * most `MAX_ERROR_TEXT` characters (see `capText`).
 */
export function errorText(error: unknown, secrets: readonly string[]): string {
  const message = messageOf(error);
  const cause = error instanceof Error && error.cause instanceof Error && error.cause.message !== message ? ` (${error.cause.message})` : '';
  // Scrubbed whole, then cut: a secret cut in two would no longer be found.
  return capText(scrub(message + cause, secrets));
}

/**
 * `text` when it has at most `MAX_ERROR_TEXT` characters; else its start, ending in a marker that says how much was
 * cut (the whole, marker included, within the limit, never splitting a character of two UTF-16 units).
 */
export function capText(text: string): string {
  if (text.length <= MAX_ERROR_TEXT) return text;
  const marker = (cut: number) => `… [${cut} characters cut]`;
  let keep = MAX_ERROR_TEXT - marker(text.length).length;
  // A high surrogate at the end would be half a character.
  if (/[\uD800-\uDBFF]/.test(text.charAt(keep - 1))) keep--;
  return text.slice(0, keep) + marker(text.length - keep);
}

/**
 * `text` with every secret replaced, and every part of one a message may quote alone: each line (a value with a line
 * break may be quoted split) and each word (a proxy may quote the token of "Bearer <token>", a cookie's value), all
 * but a credential's scheme ("Bearer", "Basic"), which is no secret. Other parts shorter than 4 characters are left:
 * they would redact ordinary words, and say nothing of the secret. The value itself and the credentials after its
 * scheme are always replaced; when that short, only where they stand alone, since holes cut inside words would both
 * garble the text and spell the secret out.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    const value = secret.trim();
    const words = value.split(/[\s,;=\0]+/);
    // An authorization value's scheme, as in "Bearer <token>": a word, a space, then the credentials.
    const scheme = /^([A-Za-z][\w-]*) +\S/.exec(value)?.[1];
    const whole = [value, value.slice(scheme?.length).trim()];
    const parts = [secret, ...whole, ...secret.split(/[\r\n\0]+/), ...words].map((part) => part.trim()).filter((part) => part && part !== scheme && (part[3] || whole.includes(part)));
    // A server may echo one into a URL (a redirect's Location), encoded as a path or query part is, or as a form is.
    for (const part of [...parts]) parts.push(...encodings(part));
    // Longest first: a whole value is replaced before any word of it.
    for (const part of parts.sort((a, b) => b.length - a.length)) {
      const escaped = part.replace(/\W/g, '\\$&');
      out = out.replace(RegExp(part[3] ? `()${escaped}` : `(^|\\W)${escaped}(?!\\w)`, 'g'), '$1' + REDACTED);
    }
  }
  return out;
}

/** `part` as a URL's part and a form encode it; none for text they refuse (a lone surrogate: a token cut mid-emoji). */
function encodings(part: string): string[] {
  try {
    return [encodeURIComponent(part), new URLSearchParams([['', part]]).toString().slice(1)];
  } catch {
    return [];
  }
}

/**
 * The values of the headers `onBeforeSend` gave tasks beyond those they are stored with (a token or signature made
 * per task): secrets as `headers()`'s are, to scrub from what is kept of the attempt.
 */
export function addedValues(sent: readonly { readonly entry: { readonly value: StoredTask }; readonly task: StoredTask }[]): string[] {
  const values: string[] = [];
  for (const { entry, task } of sent) {
    for (const [name, value] of Object.entries(task.headers)) if (entry.value.headers[name] !== value) values.push(value);
  }
  return values;
}
