/** A random id of 16 hex digits, from the platform's CSPRNG (present in browsers, workers and Node >= 19). */
export function randomId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
