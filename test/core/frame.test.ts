import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/core/crc32.js';
import { encodeUnit, FRAME_HEADER, scanFrames, validFrameAfter } from '../../src/core/frame.js';
import { frameLines } from '../../src/core/frame-lines.js';

const text = new TextEncoder();
const unit = (...payloads: string[]) => {
  const bytes = text.encode(payloads.join(''));
  const ends: number[] = [];
  let at = 0;
  for (const p of payloads) ends.push((at += text.encode(p).length));
  return encodeUnit(bytes, ends);
};
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};
const decode = (bytes: Uint8Array, spans: { start: number; end: number }[]) =>
  spans.map((s) => new TextDecoder().decode(bytes.subarray(s.start, s.end)));

describe('crc32()', () => {
  it('is the IEEE CRC-32 (check value of "123456789" is cbf43926)', () => {
    expect(crc32(text.encode('123456789')).toString(16)).toBe('cbf43926');
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
  it('continues across calls and agrees on every length around its 8-byte stride', () => {
    const bytes = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 5) & 0xff);
    for (let n = 0; n <= bytes.length; n++) {
      for (const cut of [0, Math.floor(n / 2), n]) {
        expect(crc32(bytes, cut, n, crc32(bytes, 0, cut))).toBe(crc32(bytes.subarray(0, n)));
      }
    }
  });
});

describe('frameLines()', () => {
  it('frames texts joined by newlines as encodeUnit frames their bytes, ASCII or not, one or many, empty ones too', () => {
    const cases = [['{"a":1}'], ['"x"', '"y"'], ['"é ✓ 😀 \u2028"', '1', '"\ud800"'], ['', '""', ''], ['"' + 'x'.repeat(70_000) + '"', '"é"']];
    // Texts whose UTF-8 outgrows them at every point around a surrogate pair, a lone surrogate and a 2-byte character:
    // what fits of the joined text is encoded in place and the rest after, cut between characters wherever it falls.
    for (let k = 0; k < 16; k++) cases.push(['1', `"${'a'.repeat(k)}😀\ud800é😀"`, `"${'b'.repeat(k)}"`]);
    for (const texts of cases) {
      const out = frameLines(texts.join('\n'), texts.length);
      expect(out).toEqual(unit(...texts));
      // A lone surrogate comes back as U+FFFD, as from any UTF-8 encoder.
      expect(decode(out, scanFrames(out, 0, 1 << 30).frames)).toEqual(texts.map((t) => new TextDecoder().decode(text.encode(t))));
    }
  });
});

describe('encodeUnit() and scanFrames()', () => {
  it('round-trips the payloads of several units', () => {
    const bytes = concat(unit('a', 'bc'), unit('déf'), unit(''));
    const scan = scanFrames(bytes, 0, 1000);
    expect(scan.stop).toBeUndefined();
    expect(scan.end).toBe(bytes.length);
    expect(decode(bytes, scan.frames)).toEqual(['a', 'bc', 'déf', '']);
  });

  it('stops at a frame cut short ("torn") and keeps the units before it', () => {
    const whole = concat(unit('one'), unit('two'));
    for (let cut = unit('one').length + 1; cut < whole.length; cut++) {
      const scan = scanFrames(whole.subarray(0, cut), 0, 1000);
      expect(scan.stop).toBe('torn');
      expect(decode(whole, scan.frames)).toEqual(['one']);
      expect(scan.end).toBe(unit('one').length);
    }
  });

  it('drops a unit whose last frame is missing ("unfinished"), returning its whole frames as partial', () => {
    const many = unit('a', 'b', 'c');
    const firstTwo = many.subarray(0, 2 * (FRAME_HEADER + 1));
    const scan = scanFrames(concat(unit('x'), firstTwo), 0, 1000);
    expect(scan.stop).toBe('unfinished');
    expect(scan.frames).toHaveLength(1);
    expect(scan.partial).toHaveLength(2);
  });

  it('detects a flipped bit anywhere in a frame ("corrupt")', () => {
    const good = unit('hello');
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i] = bad[i]! ^ 0x10;
      const scan = scanFrames(bad, 0, 1000);
      expect(scan.frames).toHaveLength(0);
      expect(scan.stop === 'corrupt' || scan.stop === 'torn').toBe(true);
    }
  });

  it('never reads a zero-filled tail as frames', () => {
    const scan = scanFrames(concat(unit('a'), new Uint8Array(64)), 0, 1000);
    expect(scan.frames).toHaveLength(1);
    expect(scan.stop).toBe('corrupt');
  });

  it('treats a length over the cap as corruption', () => {
    expect(scanFrames(unit('x'.repeat(50)), 0, 10).stop).toBe('corrupt');
  });

  describe('past a bad frame (a sealed segment)', () => {
    const flip = (bytes: Uint8Array, at: number, mask = 0x10) => {
      const copy = bytes.slice();
      copy[at] = copy[at]! ^ mask;
      return copy;
    };
    const three = concat(unit('one'), unit('two'), unit('six'));
    const second = unit('one').length;

    it('keeps a frame whose payload is damaged as bad, in its place, and goes on', () => {
      const damaged = flip(three, second + FRAME_HEADER + 1);
      const scan = scanFrames(damaged, 0, 1000, true);
      expect(scan.stop).toBeUndefined();
      expect(scan.end).toBe(damaged.length);
      expect(scan.frames.map((f) => f.bad ?? false)).toEqual([false, true, false]);
      expect(decode(damaged, scan.frames.filter((f) => !f.bad))).toEqual(['one', 'six']);
      // Without being asked to, it stops there, as for a tail.
      expect(scanFrames(damaged, 0, 1000)).toMatchObject({ stop: 'corrupt', end: second });
    });

    it('keeps the last frame as bad when the bytes end where it says it does', () => {
      const scan = scanFrames(flip(three, three.length - 1), 0, 1000, true);
      expect(scan.frames.map((f) => f.bad ?? false)).toEqual([false, false, true]);
      expect(scan.stop).toBeUndefined();
    });

    it('stops where a damaged length word lands on a later frame (items of one size): never one item for several', () => {
      // Frames of 16 bytes: one bit of the length word moves the end by exactly one frame.
      const same = concat(unit('item-000'), unit('item-001'), unit('item-002'), unit('item-003'));
      const damaged = flip(same, 16, 0x10);
      expect(new DataView(damaged.buffer).getUint32(16, true) & 0x7fff_ffff).toBe(24);
      const scan = scanFrames(damaged, 0, 1000, true);
      expect(scan).toMatchObject({ stop: 'corrupt', end: 16 });
      expect(decode(damaged, scan.frames)).toEqual(['item-000']);
    });

    it('stops where a damaged length word ends it short, inside its own payload', () => {
      const scan = scanFrames(flip(three, second, 0x02), 0, 1000, true);
      expect(scan).toMatchObject({ stop: 'corrupt', end: second });
    });

    it('stops at two damaged frames in a row: where the first ends is not known to be right', () => {
      const scan = scanFrames(flip(flip(three, second + FRAME_HEADER), three.length - 1), 0, 1000, true);
      expect(scan).toMatchObject({ stop: 'corrupt', end: second });
    });
  });

  it('validFrameAfter() tells damage followed by good data from a torn tail', () => {
    const damaged = concat(unit('a'), new Uint8Array([1, 2, 3, 4, 5]), unit('b'));
    expect(validFrameAfter(damaged, unit('a').length, 1000)).toBe(true);
    expect(validFrameAfter(concat(unit('a'), new Uint8Array(30).fill(7)), unit('a').length, 1000)).toBe(false);
  });
});
