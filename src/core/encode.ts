import { jsonEncode, jsonEncodeMany, jsonText, type Codec } from './codec.js';
import { copyBytes } from './copy-bytes.js';
import { messageOf, SluiceError } from './errors.js';
import { encodeUnit, frameText, FRAME_HEADER, payloadLength } from './frame.js';
import { frameLines } from './frame-lines.js';

/**
 * Encodes and frames `items` as one commit unit, refusing any item over `maxItemBytes`. A codec that throws (a getter
 * that throws, say) refuses the item as not serializable, its error as the cause.
 */
export function encodeItems<T>(codec: Codec<T>, items: readonly T[], maxItemBytes: number): Uint8Array {
  // A hole (`pushMany([, x])`) is no item: map and join pass over it, and it would be stored as no bytes at all,
  // which no codec reads back.
  for (let i = 0; i < items.length; i++) if (!(i in items)) throw new SluiceError('ERR_NOT_SERIALIZABLE', `Item ${i} is a hole in the array, not an item.`);
  try {
    return encode(codec, items, maxItemBytes);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    // Past the engine's longest string (V8: 512 MiB, "Invalid string length"; JavaScriptCore: "Out of memory"), in
    // JSON.stringify or the join of a batch's texts: the items are too large together, or one alone, not of a kind
    // JSON cannot carry. (Another RangeError, a getter's "Invalid time value", is the item's.)
    if (codec.encode === jsonEncode && error instanceof RangeError && /string length|out of memory/i.test(error.message)) {
      const what = items.length === 1 ? 'The item' : `The ${items.length} items`;
      throw new SluiceError('ERR_ITEM_TOO_LARGE', `${what} as JSON would be longer than this JavaScript engine's longest string (${messageOf(error)}). Push fewer at a time, or smaller items.`, { cause: error });
    }
    throw new SluiceError('ERR_NOT_SERIALIZABLE', `The codec could not encode an item: ${messageOf(error)}`, { cause: error });
  }
}

function encode<T>(codec: Codec<T>, items: readonly T[], maxItemBytes: number): Uint8Array {
  if (codec.encode === jsonEncode && items.length === 1) {
    // One item of the default codec, the common push: its text is encoded straight into its frame.
    const framed = frameText(jsonText(items[0]));
    tooLarge(framed.length - FRAME_HEADER, maxItemBytes);
    return framed;
  }
  if (codec.encode === jsonEncode && codec.encodeMany === jsonEncodeMany) {
    // The default codec's batch: its texts joined by newlines, as its `encodeMany` joins them, and framed in place.
    const framed = frameLines(items.map(jsonText).join('\n'), items.length);
    for (let at = 0, length = 0; at < framed.length; at += FRAME_HEADER + length) tooLarge((length = payloadLength(framed, at)), maxItemBytes);
    return framed;
  }
  let encoded: { bytes: Uint8Array; ends: number[] };
  // A codec spread from jsonCodec() with an `encode` of its own carries jsonCodec's `encodeMany`, which does not agree
  // with it: its items go through its `encode`.
  const many = codec.encodeMany === jsonEncodeMany ? undefined : codec.encodeMany;
  if (many && items.length > 1) {
    const { bytes, ends } = many.call(codec, items);
    encoded = { bytes: bytesOf(bytes), ends };
    checkEnds(encoded, items.length);
  } else {
    // Each copied before the next is encoded: an encoder may hand back a view of a buffer it writes the next item into
    // (msgpackr's REUSE_BUFFER_MODE does), which would turn every item of a batch into the last.
    const parts = items.map((item, i) => {
      const part = bytesOf(codec.encode(item));
      return i < items.length - 1 ? copyBytes(part) : part;
    });
    const ends: number[] = [];
    parts.reduce((at, p) => (ends.push(at + p.length), at + p.length), 0);
    encoded = { bytes: parts.length === 1 ? parts[0]! : concat(parts), ends };
  }
  let start = 0;
  for (const end of encoded.ends) {
    tooLarge(end - start, maxItemBytes);
    start = end;
  }
  return encodeUnit(encoded.bytes, encoded.ends);
}

function tooLarge(bytes: number, maxItemBytes: number): void {
  if (bytes <= maxItemBytes) return;
  throw new SluiceError('ERR_ITEM_TOO_LARGE', `An item is ${bytes} bytes encoded; maxItemBytes is ${maxItemBytes}. Split it or raise maxItemBytes.`);
}

/**
 * Refuses what `encodeMany` returned unless `ends` cut `bytes` into `count` items, in order, to its end: ends out of
 * place would frame wrong slices of the bytes, stored with checksums that pass, and read back as other items.
 */
function checkEnds({ bytes, ends }: { bytes: Uint8Array; ends: unknown }, count: number): void {
  let fits = Array.isArray(ends) && ends.length === count && ends[count - 1] === bytes.length;
  for (let i = 0, start = 0; fits && i < count; i++) {
    const end = (ends as unknown[])[i] as number;
    fits = Number.isInteger(end) && end >= start;
    start = end;
  }
  if (!fits) throw new SluiceError('ERR_NOT_SERIALIZABLE', `The codec's encodeMany returned ends that do not cut its ${bytes.length} bytes into the ${count} items in order, the last ending where the bytes do.`);
}

/**
 * `value` as this realm's Uint8Array: one of another realm (an encoder made in a same-origin iframe or a `vm`
 * context) is one as well, which `instanceof` would not see.
 */
function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]') return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
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
