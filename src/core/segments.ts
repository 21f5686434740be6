import { FRAME_HEADER, MAX_PAYLOAD, payloadLength, scanFrames, validFrameAfter, type ScanResult } from './frame.js';
import type { QueueState } from './queue-state.js';
import type { Range } from './ranges.js';
import type { QueueStorage, SegmentInfo } from './store.js';

/** One item's bytes: the payload is `bytes[start, end)`. */
export interface StoredItem {
  readonly seq: number;
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
}

interface Parsed {
  /** Bytes read and parsed so far; for the tail, the end of its last complete unit. */
  end: number;
  readonly frames: { readonly bytes: Uint8Array; readonly start: number; readonly end: number; readonly bad?: true }[];
  /** Where a sealed segment stopped making sense, if it did. */
  damage?: number;
  /** The frames as items, made once per change: a take that walks the segment again reuses them. A bad frame is a hole. */
  items?: (StoredItem | undefined)[];
}

/** The tail read back shorter than the listing said: the listing is out of date, and must be taken again. */
export const MOVED = 'moved';

/** What was found past the last complete unit of the tail segment. */
export interface TailDamage {
  readonly segment: number;
  readonly offset: number;
  readonly bytes: number;
  /** True when valid frames follow the damage: not a torn write but corruption in the middle. */
  readonly corrupt: boolean;
}

/** Parsed segments kept at once, besides the tail: memory stays bounded however long the queue. */
const CACHED = 4;

/**
 * Reads in a row of one sealed segment that came back shorter than listed before what it holds is taken for all
 * there is (as many as the loads `CommitView` allows a tail that keeps moving).
 */
const SHORT_READS = 8;

/**
 * The queue's view of its segments: which exist, where the tail's last complete unit ends, and the parsed frames
 * of the few segments being read. It reads only the tail on refresh, so opening a long queue reads one segment.
 */
export class Segments {
  readonly #storage: QueueStorage;
  /**
   * This handle's `maxItemBytes`: the largest frame looked for past damage, to tell corruption from a torn write.
   * Never a cap on frames read: another handle (a CLI, a process with other options) may write larger items, and a
   * frame that passes its checksum is data, whatever its length.
   */
  readonly #probeMax: number;
  #list: SegmentInfo[] = [];
  readonly #cache = new Map<number, Parsed>();
  /**
   * Each damaged sealed segment seen, kept while the segment exists: the byte offset where it stopped making sense
   * (its end, when it did not), and the offset of each frame that failed its checksum in its place, by number.
   */
  readonly #damaged = new Map<number, { readonly at: number; readonly holes: ReadonlyMap<number, number> }>();
  /**
   * Segments found wholly acked while they were the tail, kept because the head had not passed them: looked at again
   * by every later ack, which may find them sealed, however many segments came after them meanwhile.
   */
  readonly #waiting = new Set<number>();
  /** Reads in a row of each sealed segment that came back shorter than listed (see `items`). */
  readonly #short = new Map<number, number>();

  constructor(storage: QueueStorage, probeMax: number) {
    this.#storage = storage;
    this.#probeMax = probeMax;
  }

  get list(): readonly SegmentInfo[] {
    return this.#list;
  }

  /** The last segment: where appends go. `end` is where its last complete unit ends. */
  get tail(): { id: number; end: number; count: number; length: number } | undefined {
    const last = this.#list[this.#list.length - 1];
    if (!last) return undefined;
    const parsed = this.#cache.get(last.id)!;
    return { id: last.id, end: parsed.end, count: parsed.frames.length, length: last.length };
  }

  /** Where the last item of the tail ends: one past its sequence number (0 with no segment). */
  get end(): number {
    const tail = this.tail;
    return tail ? tail.id + tail.count : 0;
  }

  /**
   * Takes in a new listing, reads what the tail gained, and reports damage past its last complete unit. The read
   * comes first: when it fails, nothing here has changed. `rewound`: the storage went back to an earlier state, and
   * may hold other bytes under the same names: every segment's bytes read before are forgotten, the tail read whole.
   * `recorded`: the newest segment and its length as the last commit recorded them apart (see `StorageSnapshot.tail`).
   */
  async refresh(list: readonly SegmentInfo[], rewound = false, recorded?: SegmentInfo): Promise<TailDamage | typeof MOVED | undefined> {
    const last = list[list.length - 1];
    const cached = !rewound && last && this.#cache.get(last.id);
    const kept = cached && cached.damage === undefined && last.length >= cached.end ? cached : undefined;
    const from = kept?.end ?? 0;
    const bytes = last && last.length > from ? await this.#storage.read(last.id, from, last.length) : undefined;
    if (rewound) this.#cache.clear();
    this.#list = list.slice();
    const lengths = new Map(list.map((s) => [s.id, s.length]));
    for (const id of this.#damaged.keys()) if (!lengths.has(id)) this.#damaged.delete(id);
    for (const id of this.#waiting) if (!lengths.has(id)) this.#waiting.delete(id);
    for (const id of this.#short.keys()) if (!lengths.has(id)) this.#short.delete(id);
    // A sealed segment cached while it was still the tail may have grown since: read it again when needed.
    for (const [id, parsed] of this.#cache) {
      if (!lengths.has(id) || (id !== last?.id && parsed.end !== lengths.get(id))) this.#cache.delete(id);
    }
    if (!last) return undefined;
    const parsed = kept ?? { end: 0, frames: [] };
    this.#cache.set(last.id, parsed);
    if (!bytes) return undefined;
    // Shorter than listed: another handle cut or removed the tail between the listing and this read.
    if (bytes.length < last.length - parsed.end) return MOVED;
    const scan = scanFrames(bytes, 0, MAX_PAYLOAD);
    for (const f of scan.frames) parsed.frames.push({ bytes, start: f.start, end: f.end });
    parsed.items = undefined;
    const offset = parsed.end + scan.end;
    parsed.end = offset;
    if (!scan.stop) return undefined;
    // A bad frame with good ones after it is damage, not the writer dying mid-write. A frame that runs past the end is
    // what a torn write leaves, unless it claims more than this handle ever writes, or it starts within what a finished
    // commit recorded (a torn write comes after that): then it may be a garbage length, looked past from the frame
    // itself (not from the unit's start, whose whole frames a torn write of several items leaves). Looking past every
    // torn frame would cost a checksum at each offset of a large torn item; a length word damaged to less than
    // maxItemBytes, looked past only by its size, had the acknowledged items after it cut as a torn write, unreported.
    const stoppedAt = scan.partial?.[scan.partial.length - 1]?.end ?? scan.end;
    const claims = stoppedAt + 4 <= bytes.length ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(stoppedAt, true) & MAX_PAYLOAD : 0;
    const committed = recorded?.id === last.id && from + stoppedAt < recorded.length;
    const corrupt =
      scan.stop === 'corrupt'
        ? validFrameAfter(bytes, scan.end, this.#probeMax)
        : scan.stop === 'torn' && (claims > this.#probeMax || committed) && validFrameAfter(bytes, stoppedAt, this.#probeMax);
    return { segment: last.id, offset, bytes: last.length - offset, corrupt };
  }

  /** Records a successful append of `bytes` at `offset` of segment `id`, which is (or now becomes) the tail. */
  appended(id: number, offset: number, bytes: Uint8Array): void {
    const at = this.#list.findIndex((s) => s.id === id);
    const info = { id, length: offset + bytes.length };
    if (at >= 0) this.#list[at] = info;
    else this.#list.push(info);
    // Appends go at the end of the tail's last complete unit, which is where its parsed frames end.
    let parsed = this.#cache.get(id);
    if (!parsed) this.#cache.set(id, (parsed = { end: 0, frames: [] }));
    // Whole units this handle framed and the store took: walked by their length words, not checked again (a second
    // checksum over every byte pushed was 7% of the time of a FileStore pushMany of 100 items).
    for (let at = 0; at < bytes.length; ) {
      const end = at + FRAME_HEADER + payloadLength(bytes, at);
      parsed.frames.push({ bytes, start: at + FRAME_HEADER, end });
      at = end;
    }
    parsed.items = undefined;
    parsed.end = info.length;
  }

  /**
   * The items of segment `index` of the list, in order, and where (if anywhere) the segment stopped making
   * sense. A sealed segment is read whole and checked the first time it is needed.
   */
  async items(index: number): Promise<{ items: readonly (StoredItem | undefined)[]; damaged: boolean; vanished?: true }> {
    const info = this.#list[index]!;
    let parsed = this.#cache.get(info.id);
    if (!parsed) {
      const bytes = await this.#storage.read(info.id, 0, info.length);
      if (bytes.length < info.length) {
        // Shorter than listed: another handle removed or cut it since this view was taken, and the listing is read
        // again. A store that goes on listing more than it reads (a record that outlived its data) would have that go
        // on for ever: after a few times what it reads is all there is, and the walk reports the items past it lost,
        // as it does for a segment listed short.
        const times = (this.#short.get(info.id) ?? 0) + 1;
        this.#short.set(info.id, times);
        if (times < SHORT_READS) return { items: [], damaged: false, vanished: true };
      } else this.#short.delete(info.id);
      const scan = sealedScan(bytes, (this.#list[index + 1]?.id ?? Infinity) - info.id);
      // A sealed segment was complete once: whole frames of a unit cut short by damage are still good items.
      const frames = scan.partial ? [...scan.frames, ...scan.partial] : scan.frames;
      parsed = { end: scan.end, frames: frames.map((f) => ({ bytes, start: f.start, end: f.end, ...(f.bad && { bad: f.bad }) })) };
      const holes = new Map<number, number>();
      frames.forEach((f, i) => f.bad && holes.set(info.id + i, f.start - FRAME_HEADER));
      if (scan.stop || holes.size > 0) {
        parsed.damage = scan.stop ? scan.end : bytes.length;
        this.#damaged.set(info.id, { at: parsed.damage, holes });
      }
      this.#evict(info.id);
      this.#cache.set(info.id, parsed);
    }
    parsed.items ??= parsed.frames.map((f, i) => (f.bad ? undefined : { seq: info.id + i, bytes: f.bytes, start: f.start, end: f.end }));
    return { items: parsed.items, damaged: parsed.damage !== undefined };
  }

  /**
   * Segments that `state` (after acking `acked`; the head was `head` before; `next` is the next item's number)
   * leaves wholly acked: damaged ones to quarantine, the rest to remove. Only segments the ack touched can have
   * changed, besides those the head passed and those that waited for the head while they were the tail: the rest of a
   * long queue, and the segments of items held between the head and an ack, are not looked at.
   */
  freeable(state: QueueState, acked: readonly Range[], head: number, next: number): { remove: number[]; quarantine: number[] } {
    const list = this.#list;
    const candidates = new Set<number>();
    const overlapping = (s: number, e: number) => {
      for (let i = Math.max(0, this.indexOf(s)); i < list.length && list[i]!.id < e; i++) candidates.add(i);
    };
    for (const [s, e] of acked) overlapping(s, e);
    if (state.head > head) overlapping(head, state.head);
    // None is left wholly below the head but one a commit freed without its removal following (a process killed
    // between them, a store that could not record its tail first): freed now. Mostly none, and the first ends the look.
    for (let i = 0; i + 1 < list.length && list[i + 1]!.id <= state.head; i++) candidates.add(i);
    for (const id of this.#waiting) overlapping(id, id + 1);
    // Another handle may have acked the one before the tail while it was the tail.
    if (list.length > 1) candidates.add(list.length - 2);
    if (list.length > 0) candidates.add(list.length - 1);
    const remove: number[] = [];
    const quarantine: number[] = [];
    for (const i of [...candidates].sort((a, b) => a - b)) {
      const info = list[i]!;
      const after = list[i + 1];
      const end = after ? after.id : next;
      // An empty tail at `next` holds the queue's floor (see `floorAfter`): it stays for the next push.
      if (!after && end <= info.id) continue;
      if (!state.allAcked(info.id, end)) continue;
      // The tail goes only once the head has passed it: otherwise its numbers could be handed out again.
      if (!after && state.head < end) {
        this.#waiting.add(info.id);
        continue;
      }
      this.#waiting.delete(info.id);
      (this.#damaged.has(info.id) ? quarantine : remove).push(info.id);
    }
    return { remove, quarantine };
  }

  /**
   * The write that keeps the queue's floor when `freed` takes its newest segment: an empty segment at `next`, the first
   * number not given out, where the next push goes. Metadata removed under the queue is rebuilt from the segments:
   * with none left, numbers would start again at 0, given to second items, and a stale `remove` would take a new one.
   */
  floorAfter(freed: readonly number[], next: number): { segment: number; offset: number; bytes: Uint8Array } | undefined {
    const newest = this.#list[this.#list.length - 1];
    return newest && newest.id < next && freed.includes(newest.id) ? floorAt(next) : undefined;
  }

  /** Index of the segment holding `seq` (the last one starting at or before it), or -1. */
  indexOf(seq: number): number {
    let lo = 0;
    let hi = this.#list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#list[mid]!.id <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Where in segment `id` item `seq`, which it cannot give, was found damaged, if it was. */
  damageOf(id: number, seq: number): number | undefined {
    const damage = this.#damaged.get(id);
    return damage && (damage.holes.get(seq) ?? damage.at);
  }

  #evict(keep: number): void {
    const tail = this.#list[this.#list.length - 1]?.id;
    const others = [...this.#cache.keys()].filter((id) => id !== tail && id !== keep);
    while (others.length >= CACHED) this.#cache.delete(others.shift()!);
  }
}

/**
 * A sealed segment's frames, read past bad frames whose bounds hold (see `scanFrames`) only where the frames then
 * number exactly the ids the segment holds (`expected`); else up to the first bad one, as a tail is. Two bad frames in
 * a row, the first's length word flipped to end where the third begins, read as one bad frame: every item after it
 * came under the id of the one before it.
 */
function sealedScan(bytes: Uint8Array, expected: number): ScanResult {
  const scan = scanFrames(bytes, 0, MAX_PAYLOAD, true);
  const frames = scan.partial ? [...scan.frames, ...scan.partial] : scan.frames;
  return frames.length === expected || !frames.some((f) => f.bad) ? scan : scanFrames(bytes, 0, MAX_PAYLOAD);
}

/** The write of a queue's floor: an empty segment at `next`, the first number not given out (see `floorAfter`). */
export function floorAt(next: number): { segment: number; offset: number; bytes: Uint8Array } {
  return { segment: next, offset: 0, bytes: new Uint8Array(0) };
}
