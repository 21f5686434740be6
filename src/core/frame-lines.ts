import { FRAME_HEADER, seal } from './frame.js';

const encoder = new TextEncoder();
const NEWLINE = 10;

/**
 * `count` texts joined by newlines (none of them holding one: JSON texts) UTF-8 encoded and framed as one unit, in the
 * one buffer that is written. The joined text is encoded once, into the end of that buffer, and each item moved down
 * into its place ahead of its header: no second buffer, no copy of each item out of it. The payloads only ever move
 * down, each to no later than where it was read, so none is overwritten before it is moved. Encoded straight in place
 * while the text is ASCII (its UTF-8 is as long as it); any other is encoded on its own first, to learn its length.
 * A call to `encodeInto` for each item instead cost more in Node than all of this, and 1-2 µs each in Chromium.
 */
export function frameLines(text: string, count: number): Uint8Array {
  const room = (length: number) => new Uint8Array(length - (count - 1) + FRAME_HEADER * count);
  let out = room(text.length);
  let from = out.length - text.length;
  if (encoder.encodeInto(text, out.subarray(from)).read < text.length) {
    const bytes = encoder.encode(text);
    out = room(bytes.length);
    from = out.length - bytes.length;
    out.set(bytes, from);
  }
  let at = 0;
  for (let i = 0; i < count; i++) {
    const last = i === count - 1;
    const end = last ? out.length : out.indexOf(NEWLINE, from);
    out.copyWithin(at + FRAME_HEADER, from, end);
    at = seal(out, at, end - from, last);
    from = end + 1;
  }
  return out;
}
