import { describe, expect, it } from 'vitest';
import { jsonCodec, type Codec } from '../../src/core/codec.js';
import { encodeItems } from '../../src/core/encode.js';
import { encodeUnit, scanFrames } from '../../src/core/frame.js';

const codec = jsonCodec<unknown>();
const framed = (item: unknown) => {
  const bytes = codec.encode(item);
  return encodeUnit(bytes, [bytes.length]);
};

describe('encodeItems()', () => {
  it('frames one item of the default codec as its encode and encodeUnit would, short or long, ASCII or not', () => {
    const items = [
      { id: 1, text: 'x'.repeat(50) },
      'é ✓ 😀 \u2028',
      // Short texts are copied a character at a time while ASCII: one that turns out not to be (at its end, or at the
      // first character past ASCII), and texts either side of the length copied so.
      `${'x'.repeat(100)}é`,
      '\u007f\u0080',
      'x'.repeat(126),
      'x'.repeat(127),
      // Past what is framed in a shared block (a third of its 64 KiB), with 3-byte characters at the boundary.
      { text: '✓'.repeat(21_843) },
      { text: '✓'.repeat(21_844) },
      { text: 'x'.repeat(30_000) },
    ];
    for (const item of items) {
      const out = encodeItems(codec, [item], Infinity);
      expect(out).toEqual(framed(item));
      const scan = scanFrames(out, 0, 1 << 30);
      expect(scan.stop).toBeUndefined();
      expect(codec.decode(out.subarray(scan.frames[0]!.start, scan.frames[0]!.end))).toEqual(item);
    }
  });

  it('keeps each framed item its own: later pushes, past the block they share, do not change an earlier one', () => {
    const first = encodeItems(codec, [{ a: 'first' }], Infinity);
    const second = encodeItems(codec, [{ a: 'second, and longer' }], Infinity);
    // Framed side by side in one block, not a buffer each (see frameText).
    expect(second.buffer).toBe(first.buffer);
    const copies = [first.slice(), second.slice()];
    const later = Array.from({ length: 2_000 }, (_, i) => encodeItems(codec, [{ i, text: 'x'.repeat(i % 90) }], Infinity));
    expect(later[later.length - 1]!.buffer).not.toBe(first.buffer);
    expect([first, second]).toEqual(copies);
    later.forEach((out, i) => expect(out).toEqual(framed({ i, text: 'x'.repeat(i % 90) })));
  });

  it('refuses an item over maxItemBytes by its encoded size, in the one-item path too', () => {
    const item = { text: 'é'.repeat(60) }; // 131 bytes of JSON text
    expect(() => encodeItems(codec, [item], 130)).toThrow(expect.objectContaining({ code: 'ERR_ITEM_TOO_LARGE' }));
    expect(() => encodeItems(codec, [item, item], 130)).toThrow(expect.objectContaining({ code: 'ERR_ITEM_TOO_LARGE' }));
    expect(encodeItems(codec, [item], 131)).toEqual(framed(item));
  });

  it('uses a codec that replaces encode, even one spread from jsonCodec()', () => {
    const upper: Codec<unknown> = { ...jsonCodec(), encode: (value) => new TextEncoder().encode(JSON.stringify(value).toUpperCase()) };
    const out = encodeItems(upper, [{ a: 'b' }], Infinity);
    expect(new TextDecoder().decode(out.subarray(8))).toBe('{"A":"B"}');
  });
});
