import { jsonCodec, jsonEncode, type Codec } from '../../core/codec.js';

/**
 * An item whose bytes are not JSON: a queue written with a codec of its own. The CLI cannot know that codec, so it
 * shows the bytes themselves (base64), which lose nothing: a drained item is printed whole before it is acked.
 */
export class Undecoded {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get base64(): string {
    return Buffer.from(this.bytes).toString('base64');
  }
}

// Fatal, and keeping a BOM: bytes that are not exactly a JSON text are shown as bytes, never altered to fit.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The default codec, but bytes it did not write decode to `Undecoded` instead of throwing. Bytes that parse as JSON
 * are not enough: a codec of one's own may write JSON that parsing changes (64-bit ids, `10.10`, a key twice), and a
 * drain prints an item's only copy. So only bytes that the default codec writes again as they are count as JSON. The
 * CLI never pushes.
 */
export function lenientCodec(): Codec<unknown> {
  return {
    ...jsonCodec<unknown>(),
    decode(bytes) {
      let value: unknown;
      try {
        value = JSON.parse(utf8.decode(bytes));
      } catch {
        // Not UTF-8, or not JSON: the one way to tell is to try.
        return new Undecoded(bytes.slice());
      }
      return sameBytes(written(value), bytes) ? value : new Undecoded(bytes.slice());
    },
  };
}

/** What the default codec writes of `value`; undefined for a value it refuses (a number past 1e308 parses as Infinity). */
function written(value: unknown): Uint8Array | undefined {
  try {
    return jsonEncode(value);
  } catch {
    return undefined;
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** An item's value on a line of text: its JSON, or its bytes marked as such. */
export function valueText(value: unknown): string {
  return value instanceof Undecoded ? `(not JSON, ${value.bytes.length} bytes) base64:${value.base64}` : JSON.stringify(value);
}

/** An item's value in a JSON line: `value`, or `base64` holding the bytes of one that is not JSON. */
export function valueFields(value: unknown): { value: unknown } | { base64: string } {
  return value instanceof Undecoded ? { base64: value.base64 } : { value };
}
