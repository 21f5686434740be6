import { SluiceError } from './errors.js';
import { FRAME_HEADER, MAX_PAYLOAD, frameText, scanFrames } from './frame.js';
import { randomId } from './ids.js';
import { flat, QueueState, unflat, type Op } from './queue-state.js';
import type { StorageBatch } from './store.js';

const FORMAT = 2;
/** Appended bytes past which the state is written whole again (and past the checkpoint's own size). */
const COMPACT_BYTES = 32_768;
const decoder = new TextDecoder();

/** What reading the metadata found. */
export interface LogRead {
  readonly state: QueueState;
  /** Records were dropped (torn, damaged or cut off): changes they held may be undone. */
  readonly damaged?: true;
  /** The state could not be read at all: the caller rebuilds it from the segments. */
  readonly unreadable?: true;
}

/**
 * A queue's metadata as a log: a checkpoint of the whole state, then one record per commit with that commit's ops,
 * each in a checksummed frame. A take or an ack appends a record of a few dozen bytes, whatever the size of the
 * state; the state is written whole again once the records outgrow it. A torn last record (a writer that died
 * mid-append) is dropped on reading and overwritten by the next append.
 */
export class MetaLog {
  /** Appended bytes past which the state is written whole again (when it is smaller). */
  readonly #compactBytes: number;
  /** Where the next record goes: the end of the last complete one. */
  #end = 0;
  /** Where the checkpoint ends. */
  #base = 0;
  /** The checkpoint's frame header (its length and checksum): when the stored one still has it, only what was appended since needs reading. */
  #header: Uint8Array | undefined;
  /** The next read builds the state from the checkpoint up, though it may still tell the records it read cut short. */
  #whole = false;
  /** The checkpoint read is of the first format, which no record may follow (see `read`). */
  #firstFormat = false;

  constructor(compactBytes = COMPACT_BYTES) {
    this.#compactBytes = compactBytes;
  }

  /** True once a state was read or written whole: appends have something to follow. */
  get started(): boolean {
    return this.#header !== undefined && !this.#whole && !this.#firstFormat;
  }

  /** Reads `bytes` into `state` when they extend what was read last, else into a new state. */
  read(bytes: Uint8Array | undefined, state: QueueState, now: number): LogRead {
    const header = this.#header;
    const same = bytes && header && header.every((b, i) => bytes[i] === b);
    if (same && bytes.length >= this.#end && !this.#whole) return this.#records(bytes, this.#end, state);
    // Records this handle read are gone from under it (the metadata cut short): what they said may be undone. Told
    // after a reset too: a cut at a record's end leaves a log that reads clean, and only the length shows the loss.
    const shrunk = same && bytes.length < this.#end;
    this.#end = this.#base = 0;
    this.#header = undefined;
    this.#whole = this.#firstFormat = false;
    if (!bytes) return { state: new QueueState() };
    const { frames } = scanFrames(bytes, 0, MAX_PAYLOAD);
    const first = frames[0];
    const checkpoint = first && decodeCheckpoint(bytes.subarray(first.start, first.end), now);
    if (!checkpoint) return { state: new QueueState(), unreadable: true };
    const { state: fresh, v } = checkpoint;
    this.#base = this.#end = first.end;
    this.#header = bytes.slice(0, FRAME_HEADER);
    // The first format had no records: a version that wrote it, rolled back to, would read its checkpoint alone and
    // skip every ack appended after it (items delivered again, unreported). The next write is a whole checkpoint of
    // this format, which that version does not read: it rebuilds, and says so.
    this.#firstFormat = v === 1;
    const read = this.#records(bytes, first.end, fresh);
    return shrunk ? { ...read, damaged: true } : read;
  }

  /** The metadata of a commit whose `ops` were applied to `state`: appended, or the state whole when due or `whole`. */
  write(ops: readonly Op[], state: QueueState, whole: boolean, now: number, next: number): Pick<StorageBatch, 'meta' | 'metaAppend'> {
    if (whole || !this.started || this.#end - this.#base > Math.max(this.#compactBytes, this.#base)) {
      return { meta: encodeCheckpoint(state, now, next) };
    }
    return { metaAppend: { offset: this.#end, bytes: frameText(JSON.stringify(ops)) } };
  }

  /** Records that the store accepted `part`. */
  wrote(part: Pick<StorageBatch, 'meta' | 'metaAppend'>): void {
    if (part.meta) {
      this.#firstFormat = false;
      this.#base = this.#end = part.meta.length;
      this.#header = part.meta.slice(0, FRAME_HEADER);
    } else if (part.metaAppend) {
      this.#end = part.metaAppend.offset + part.metaAppend.bytes.length;
    }
  }

  /** Forgets the state read: the next read starts over from the checkpoint. */
  reset(): void {
    this.#whole = true;
  }

  #records(bytes: Uint8Array, from: number, state: QueueState): LogRead {
    const scan = scanFrames(bytes, from, MAX_PAYLOAD);
    for (const { start, end } of scan.frames) {
      let ops: Op[];
      try {
        ops = JSON.parse(decoder.decode(bytes.subarray(start, end))) as Op[];
        // A whole checkpoint (an object) where a record belongs: a copy of the file's start, not written by this code.
        if (!Array.isArray(ops)) throw new TypeError('not a record');
      } catch {
        // A frame whose checksum holds but whose text does not parse was not written by this code.
        this.#end = start - FRAME_HEADER;
        return { state, damaged: true };
      }
      for (const op of ops) state.apply(op);
      this.#end = end;
    }
    // Bytes past the last whole record: a writer that died mid-append (that commit never happened), or records cut
    // or damaged after they were committed. They cannot be told apart, so it is said either way: what they held
    // (acks, say) may be undone, and items may come again.
    return scan.end < bytes.length ? { state, damaged: true } : { state };
  }
}

/** The whole state, holds that ended before `now` left out; `next` is how far the queue has grown. */
function encodeCheckpoint(state: QueueState, now: number, next: number): Uint8Array {
  const holds = [...state.holds.all()]
    .filter((h) => h.until > now)
    .map((h) => [h.lease, h.owner, h.until, ...flat(state.holds.pieces(h))]);
  const attempts = state.attempts.runs().flatMap((r) => [r.s, r.e, r.v]);
  const acked = flat(state.acked.runs().map((r) => [r.s, r.e] as const));
  const floor = Math.max(state.floor, next);
  const at = state.grown && [state.grown.next, state.grown.segment, state.grown.end];
  return frameText(JSON.stringify({ v: FORMAT, gen: randomId(), head: state.head, next: floor, k: state.partitions, acked, attempts, holds, at }));
}

/** The state in a checkpoint, or undefined when it is not one. Throws 'ERR_INCOMPATIBLE_STORE' for a newer format. */
function decodeCheckpoint(bytes: Uint8Array, now: number): { state: QueueState; v: 1 | 2 } | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  const { v, head, next, k, at } = parsed;
  if (typeof v === 'number' && v > FORMAT) {
    throw new SluiceError('ERR_INCOMPATIBLE_STORE', `The queue's metadata is of format ${v}, newer than this version of sluice reads (${FORMAT}); upgrade sluice.`);
  }
  if ((v !== 1 && v !== 2) || !Number.isSafeInteger(head)) return undefined;
  const state = new QueueState();
  state.head = head as number;
  if (Number.isSafeInteger(next)) state.floor = next as number;
  if (Number.isSafeInteger(k)) state.partitions = k as number;
  if (Array.isArray(at) && at.length === 3 && at.every((n) => Number.isSafeInteger(n) && n >= 0)) state.apply(['n', at[0], at[1], at[2]]);
  try {
    if (v === 1) {
      // The first format: ranges as pairs, holds as objects.
      const old = parsed as { acked: [number, number][]; attempts: [number, number, number][]; holds: { lease: string; owner: string; until: number; ranges: [number, number][] }[] };
      for (const [s, e] of old.acked) state.acked.set(s, e, true);
      for (const [s, e, n] of old.attempts) state.attempts.set(s, e, n);
      for (const h of old.holds) if (h.until > now) state.holds.add(h);
    } else {
      const { acked, attempts, holds } = parsed as { acked: number[]; attempts: number[]; holds: [string, string, number, ...number[]][] };
      for (let i = 0; i + 1 < acked.length; i += 2) state.acked.set(acked[i]!, acked[i + 1]!, true);
      for (let i = 0; i + 2 < attempts.length; i += 3) state.attempts.set(attempts[i]!, attempts[i + 1]!, attempts[i + 2]!);
      for (const [lease, owner, until, ...ranges] of holds) if (until > now) state.holds.add({ lease, owner, until, ranges: unflat(ranges) });
    }
  } catch {
    return undefined;
  }
  return { state, v: v === 1 ? 1 : 2 };
}
