import { crc32 } from './crc32.js';

// A frame is [u32 length | flags][u32 CRC-32][payload], little-endian. The checksum covers the length word too, so
// a zeroed tail (what a power cut often leaves) never reads as a run of empty frames.
export const FRAME_HEADER = 8;
/** Set on the last frame of each commit unit: a pushMany is one unit, so a torn pushMany is cut whole. */
const UNIT_END = 0x8000_0000;
/** Lengths are 31 bits; the option that caps items (maxItemBytes) is validated below this. */
export const MAX_PAYLOAD = 0x7fff_ffff;

/**
 * Frames payloads into one buffer as one unit: only the last frame carries the unit-end flag. Payload `i` is
 * `bytes[ends[i - 1] ?? 0, ends[i])`. (The default codec's batches are framed by `frameLines`.)
 */
export function encodeUnit(bytes: Uint8Array, ends: readonly number[]): Uint8Array {
  const out = new Uint8Array(bytes.length + FRAME_HEADER * ends.length);
  let at = 0;
  let start = 0;
  ends.forEach((end, i) => {
    out.set(bytes.subarray(start, end), at + FRAME_HEADER);
    at = seal(out, at, end - start, i === ends.length - 1);
    start = end;
  });
  return out;
}

const encoder = new TextEncoder();
const BLOCK = 64 * 1024;
/** Where short texts are framed, one after another (see `frameText`); never written over, replaced once full. */
let block = new Uint8Array(BLOCK);
let used = 0;

/**
 * A text UTF-8 encoded as one frame, a unit of its own. A short one (most items) is encoded straight into place, in
 * a block shared with the frames before it, and comes back as a view: in every engine a buffer costs about a
 * microsecond to allocate, more than encoding a small item takes, and a burst of pushes allocating one each kept the
 * collector busy (a quarter of the time of 5 000 concurrent pushes into a MemoryStore, in Chromium and Firefox). A
 * view keeps its whole block alive: a commit of several pushes writes one buffer of its own, stores copy what they
 * keep (IndexedDB copies a view before it stores it), and what stays is the queue's own cache of a few segments and
 * the items leased. One that might not fit (UTF-8 takes up to 3 bytes per UTF-16 unit) is encoded on its own first,
 * to its exact size.
 */
export function frameText(text: string): Uint8Array {
  const most = FRAME_HEADER + 3 * text.length;
  if (most > BLOCK) {
    const bytes = encoder.encode(text);
    return encodeUnit(bytes, [bytes.length]);
  }
  if (used + most > BLOCK) {
    block = new Uint8Array(BLOCK);
    used = 0;
  }
  const start = used;
  let written = text.length <= SHORT_TEXT ? asciiInto(text, block, start + FRAME_HEADER) : -1;
  if (written < 0) written = encoder.encodeInto(text, block.subarray(start + FRAME_HEADER, start + most)).written;
  used = seal(block, start, written, true);
  return block.subarray(start, used);
}

/**
 * Texts up to this long are copied a character at a time when they are ASCII: a call to `encodeInto` costs 1-2 µs
 * in Chromium and 0.6 µs in WebKit whatever the length, more than the copy of a short text (0.1-0.2 µs for 100
 * characters). Node's `encodeInto` is quicker than the copy at every length, by about 0.13 µs at this one.
 */
const SHORT_TEXT = 128;

/** Copies `text` into `out` at `at` when it is all ASCII (its UTF-8 is its UTF-16 units) and says how many bytes; else -1. */
function asciiInto(text: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return -1;
    out[at + i] = code;
  }
  return text.length;
}

/** Writes the header of the frame at `at` whose `length` bytes of payload are in place; returns where it ends. */
export function seal(out: Uint8Array, at: number, length: number, last: boolean): number {
  put32(out, at, length | (last ? UNIT_END : 0));
  put32(out, at + 4, crc32(out, at + FRAME_HEADER, at + FRAME_HEADER + length, crc32(out, at, at + 4)));
  return at + FRAME_HEADER + length;
}

/** `n` as 4 bytes, little-endian (a typed array keeps the low 8 bits of what it is given). */
function put32(out: Uint8Array, at: number, n: number): void {
  out[at] = n;
  out[at + 1] = n >>> 8;
  out[at + 2] = n >>> 16;
  out[at + 3] = n >>> 24;
}

/** The payload length the frame at `at` of `bytes` claims (its length word without the unit-end flag). */
export function payloadLength(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) & MAX_PAYLOAD;
}

/** Where one frame's payload lies in the scanned bytes. */
export interface FrameSpan {
  readonly start: number;
  readonly end: number;
  /** Its checksum failed, its bounds held (see `scanFrames`): an item that cannot be read, in its place. */
  readonly bad?: true;
}

export interface ScanResult {
  /** Frames of complete units, in order. */
  readonly frames: FrameSpan[];
  /** Byte offset just past the last complete unit: everything after it is torn, unfinished or corrupt. */
  readonly end: number;
  /** Why scanning stopped before the end of `bytes`, if it did. */
  readonly stop?: 'torn' | 'corrupt' | 'unfinished';
  /** Whole frames of the unit that never finished: dropped from a tail, still readable data in a damaged sealed segment. */
  readonly partial?: FrameSpan[];
}

/**
 * Reads frames from `bytes` starting at `from` and keeps those of complete units. It stops at the first frame
 * whose header or payload runs past the end ('torn': the writer died mid-write), whose length exceeds `maxPayload`
 * or whose checksum fails ('corrupt'), or at trailing frames of a unit that never got its end flag ('unfinished').
 * With `pastBad` (bytes that were complete once: a sealed segment), a frame whose checksum fails but whose bounds
 * hold, a valid frame starting where its length word says it ends (or the bytes ending there), is kept as `bad` and
 * the scan goes on: a flipped bit in one item's payload costs that item, not every one after it in the segment, and
 * each keeps its number (a damaged length word almost never lands on a frame whose checksum holds).
 */
export function scanFrames(bytes: Uint8Array, from: number, maxPayload: number, pastBad = false): ScanResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: FrameSpan[] = [];
  let unitStart = 0; // index into frames of the current unit's first frame
  let end = from;
  let at = from;
  let stop: ScanResult['stop'];
  while (at < bytes.length) {
    let framed = frameAt(bytes, view, at, maxPayload);
    if (framed === 'corrupt' && pastBad) framed = boundsOf(bytes, view, at, maxPayload) ?? framed;
    if (typeof framed === 'string') {
      stop = framed;
      break;
    }
    frames.push({ start: at + FRAME_HEADER, end: framed.next, ...(framed.bad && { bad: true }) });
    at = framed.next;
    if (framed.unitEnd) {
      unitStart = frames.length;
      end = at;
    }
  }
  if (unitStart < frames.length) {
    const partial = frames.splice(unitStart);
    return { frames, end, stop: stop ?? 'unfinished', partial };
  }
  return stop ? { frames, end, stop } : { frames, end };
}

/**
 * True when a valid frame starts anywhere in `bytes` after `from` (and its header before `end`): then the damage at
 * `from` is not a torn tail. Also true once the checksums it would compute pass `budget` bytes: in doubt.
 */
export function validFrameAfter(bytes: Uint8Array, from: number, maxPayload: number, end = bytes.length, budget = Infinity): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = from + 1; at + FRAME_HEADER <= end; at++) {
    const length = view.getUint32(at, true) & MAX_PAYLOAD;
    if (length > maxPayload || at + FRAME_HEADER + length > bytes.length) continue;
    if ((budget -= FRAME_HEADER + length) < 0) return true;
    if (typeof frameAt(bytes, view, at, maxPayload) !== 'string') return true;
  }
  return false;
}

/**
 * Checksum bytes the look within a bad frame may cost before its bounds count as in doubt. Binary payloads (a codec's)
 * read as plausible lengths at many offsets: looking through 1 MiB of one took 69 s, 64 KiB 0.4 s.
 */
const WITHIN_BUDGET = 1 << 22;

/**
 * The bounds of the frame at `at` whose checksum failed, where they hold: the bytes end where it does, or a valid
 * frame starts there, and none starts within it. A flipped bit of the length word moves the end by a power of two,
 * which, with items all of one size, lands on a later frame: the frames between must not be taken for one item, or
 * each after it would come under the number of another.
 */
function boundsOf(bytes: Uint8Array, view: DataView, at: number, maxPayload: number): { next: number; unitEnd: boolean; bad: true } | undefined {
  const word = view.getUint32(at, true);
  const length = word & MAX_PAYLOAD;
  const next = at + FRAME_HEADER + length;
  if (length > maxPayload || next > bytes.length) return undefined;
  if (next < bytes.length && typeof frameAt(bytes, view, next, maxPayload) === 'string') return undefined;
  return validFrameAfter(bytes, at, maxPayload, next, WITHIN_BUDGET) ? undefined : { next, unitEnd: (word & UNIT_END) !== 0, bad: true };
}

function frameAt(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  maxPayload: number,
): { next: number; unitEnd: boolean; bad?: true } | 'torn' | 'corrupt' {
  if (at + FRAME_HEADER > bytes.length) return 'torn';
  const word = view.getUint32(at, true);
  const length = word & MAX_PAYLOAD;
  if (length > maxPayload) return 'corrupt';
  const next = at + FRAME_HEADER + length;
  if (next > bytes.length) return 'torn';
  const sum = crc32(bytes, at + FRAME_HEADER, next, crc32(bytes, at, at + 4));
  if (sum !== view.getUint32(at + 4, true)) return 'corrupt';
  return { next, unitEnd: (word & UNIT_END) !== 0 };
}
