import { SluiceError } from './errors.js';

/** A random id of 16 hex digits, from the platform's CSPRNG (present in browsers, workers and Node >= 19). */
export function randomId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Entry ids (decimal sequence numbers) as sorted, distinct numbers; 'ERR_INVALID_OPTION' for anything else. */
export function parseIds(ids: readonly string[]): number[] {
  if (!Array.isArray(ids)) throw new SluiceError('ERR_INVALID_OPTION', 'Expected `ids` to be an array of entry ids.');
  const seqs = ids.map((id) => {
    const seq = typeof id === 'string' && /^\d{1,16}$/.test(id) ? Number(id) : NaN;
    if (!Number.isSafeInteger(seq)) throw new SluiceError('ERR_INVALID_OPTION', `Expected \`ids\` to hold entry ids, got ${JSON.stringify(id)}.`);
    return seq;
  });
  return [...new Set(seqs)].sort((a, b) => a - b);
}
