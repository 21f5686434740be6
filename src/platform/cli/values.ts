import { jsonCodec, type Codec } from '../../core/codec.js';

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

/** The default codec, but bytes that are not JSON decode to `Undecoded` instead of throwing. The CLI never pushes. */
export function lenientCodec(): Codec<unknown> {
  return {
    ...jsonCodec<unknown>(),
    decode(bytes) {
      try {
        return JSON.parse(utf8.decode(bytes)) as unknown;
      } catch {
        // Not UTF-8, or not JSON: the one way to tell is to try.
        return new Undecoded(bytes.slice());
      }
    },
  };
}

/** An item's value on a line of text: its JSON, or its bytes marked as such. */
export function valueText(value: unknown): string {
  return value instanceof Undecoded ? `(not JSON, ${value.bytes.length} bytes) base64:${value.base64}` : JSON.stringify(value);
}

/** An item's value in a JSON line: `value`, or `base64` holding the bytes of one that is not JSON. */
export function valueFields(value: unknown): { value: unknown } | { base64: string } {
  return value instanceof Undecoded ? { base64: value.base64 } : { value };
}
