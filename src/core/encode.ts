import type { Codec } from './codec.js';
import { SluiceError } from './errors.js';
import { encodeUnit } from './frame.js';

/** Encodes and frames `items` as one commit unit, refusing any item over `maxItemBytes`. */
export function encodeItems<T>(codec: Codec<T>, items: readonly T[], maxItemBytes: number): Uint8Array {
  let encoded: { bytes: Uint8Array; ends: number[] };
  let gap: 0 | 1 = 0;
  if (codec.encodeMany && items.length > 1) {
    encoded = codec.encodeMany(items);
    gap = 1;
    if (!(encoded.bytes instanceof Uint8Array) || encoded.ends.length !== items.length) notBytes();
  } else {
    const parts = items.map((item) => codec.encode(item));
    if (!parts.every((p) => p instanceof Uint8Array)) notBytes();
    const ends: number[] = [];
    parts.reduce((at, p) => (ends.push(at + p.length), at + p.length), 0);
    encoded = { bytes: parts.length === 1 ? parts[0]! : concat(parts), ends };
  }
  let start = 0;
  for (const end of encoded.ends) {
    if (end - start > maxItemBytes) {
      throw new SluiceError(
        'ERR_ITEM_TOO_LARGE',
        `An item is ${end - start} bytes encoded; maxItemBytes is ${maxItemBytes}. Split it or raise maxItemBytes.`,
      );
    }
    start = end + gap;
  }
  return encodeUnit(encoded.bytes, encoded.ends, gap);
}

function notBytes(): never {
  throw new SluiceError('ERR_NOT_SERIALIZABLE', 'The codec did not return a Uint8Array for the item.');
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
