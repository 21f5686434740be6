/**
 * Error text the outbox keeps (dead letters, 'retry' and 'dead' events, `list()`'s `lastError`) without the values
 * of the headers sent with it: a transport's message may quote the request (undici's "Headers.append: "…" is an
 * invalid header value."), and `OutboxOptions.headers` values are secrets that must never reach storage.
 */

const REDACTED = '[redacted]';

/** A message for `error`, its cause's appended (fetch's "fetch failed" says why only there), without `secrets`. */
export function errorText(error: unknown, secrets: readonly string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error && error.cause.message !== message ? ` (${error.cause.message})` : '';
  return scrub(message + cause, secrets);
}

/**
 * `text` with every secret, and every line of a secret (a value with a line break may be quoted split), replaced.
 * Parts shorter than 4 characters are left: they would redact ordinary words, and say nothing of the secret.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    for (const part of [secret, ...secret.split(/[\r\n\0]+/)]) {
      const trimmed = part.trim();
      if (trimmed.length >= 4) out = out.split(trimmed).join(REDACTED);
    }
  }
  return out;
}
