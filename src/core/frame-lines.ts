import { FRAME_HEADER, seal } from './frame.js';

const encoder = new TextEncoder();
const NEWLINE = 10;

/**
 * `count` texts joined by newlines (none of them holding one: JSON texts) UTF-8 encoded and framed as one unit, in the
 * one buffer that is written. The joined text is encoded once, into the end of that buffer, and each item moved down
 * into its place ahead of its header: no second buffer, no copy of each item out of it. The payloads only ever move
 * down, each to no later than where it was read, so none is overwritten before it is moved. Encoded straight in place
 * while the text is ASCII (its UTF-8 is as long as it); of any other, what did not fit is encoded after, to learn its length.
 * A call to `encodeInto` for each item instead cost more in Node than all of this, and 1-2 µs each in Chromium.
 */
export function frameLines(text: string, count: number): Uint8Array {
  const room = (length: number) => new Uint8Array(length - (count - 1) + FRAME_HEADER * count);
  let out = room(text.length);
  let from = out.length - text.length;
  const { read, written } = encoder.encodeInto(text, out.subarray(from));
  if (read < text.length) {
    // What did not fit is encoded on its own (`encodeInto` stops between characters), both parts then put in place.
    const rest = encoder.encode(text.slice(read));
    const done = out.subarray(from, from + written);
    out = room(written + rest.length);
    from = out.length - written - rest.length;
    out.set(done, from);
    out.set(rest, from + written);
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
