import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { encodeUnit } from '../../src/core/frame.js';
import { MetaLog } from '../../src/core/meta-log.js';
import { QueueState, type Op } from '../../src/core/queue-state.js';

/** What a state says at NOW, as plain data to compare (a hold whose time is up holds nothing). */
const view = (state: QueueState) => ({
  head: state.head,
  acked: state.acked.runs().map((r) => [r.s, r.e]),
  attempts: state.attempts.runs().map((r) => [r.s, r.e, r.v]),
  holds: [...state.holds.all()].filter((h) => h.until > NOW).map((h) => [h.lease, h.owner, h.until, state.holds.pieces(h)]).map((h) => JSON.stringify(h)).sort(),
});

const NOW = 1_000;

/** The metadata bytes a store would hold after the writer's commits. */
class Stored {
  bytes = new Uint8Array(0);
  write(part: { meta?: Uint8Array; metaAppend?: { offset: number; bytes: Uint8Array } }) {
    if (part.meta) this.bytes = part.meta.slice();
    if (part.metaAppend) {
      const { offset, bytes } = part.metaAppend;
      const next = new Uint8Array(offset + bytes.length);
      next.set(this.bytes.subarray(0, offset));
      next.set(bytes, offset);
      this.bytes = next;
    }
  }
}

/** One commit of `ops` by a writer: applied to its `state`, written through `log` (into `stored`, when given). */
function commit(log: MetaLog, state: QueueState, ops: Op[], stored?: Stored): ReturnType<MetaLog['write']> {
  for (const o of ops) state.apply(o);
  const part = log.write(ops, state, false, NOW, 0);
  stored?.write(part);
  log.wrote(part);
  return part;
}

/** The metadata a writer leaves after committing `commits` (each a list of ops) one after another, appending each. */
function appended(commits: Op[][]): Stored {
  const log = new MetaLog();
  const state = new QueueState();
  const stored = new Stored();
  for (const ops of commits) commit(log, state, ops, stored);
  return stored;
}

describe('MetaLog', () => {
  const op = fc.oneof(
    fc.tuple(fc.constant('t' as const), fc.string({ maxLength: 3 }), fc.constantFrom('o1', 'o2'), fc.integer({ min: 900, max: 2000 }), fc.nat(40), fc.nat(4)).map(
      ([, lease, owner, until, s, n]): Op => ['t', `l${lease}`, owner, until, [s, s + n + 1]],
    ),
    fc.tuple(fc.nat(40), fc.nat(4), fc.option(fc.integer({ min: 900, max: 2000 }), { nil: undefined })).map(([s, n, until]): Op => (until === undefined ? ['u', [s, s + n + 1]] : ['u', [s, s + n + 1], until])),
    fc.tuple(fc.nat(40), fc.nat(4)).map(([s, n]): Op => ['a', [s, s + n + 1]]),
    fc.constantFrom('o1', 'o2').map((owner): Op => ['o', owner]),
    fc.tuple(fc.nat(45), fc.nat(5)).map(([from, n]): Op => ['c', from, from + n]),
  );

  it('a reader that replays what the writer appended, reading from scratch or only what is new, sees the writer\'s state', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { maxLength: 60 }), fc.constantFrom(64, 32_768), (commits, compactBytes) => {
        // A small threshold makes the writer write the state whole every few commits, under the reader's feet.
        const writer = new MetaLog(compactBytes);
        const state = new QueueState();
        const stored = new Stored();
        const follower = new MetaLog();
        let followed = new QueueState();
        // One that reads only every few commits, as a process catching up on the others' commits does: several
        // commits in one read (a take and the ack that ends it among them) must leave the state one at a time does.
        const behind = new MetaLog();
        let caught = new QueueState();
        for (const [i, ops] of commits.entries()) {
          commit(writer, state, ops, stored);
          followed = follower.read(stored.bytes, followed, NOW).state;
          expect(view(followed)).toEqual(view(state));
          if (i % 5 === 4) {
            caught = behind.read(stored.bytes, caught, NOW).state;
            expect(view(caught)).toEqual(view(state));
          }
        }
        const fresh = new MetaLog().read(stored.bytes, new QueueState(), NOW);
        expect(fresh.damaged).toBeUndefined();
        expect(view(fresh.state)).toEqual(view(state));
      }),
    );
  });

  it('a torn last record is dropped on reading and said (it may have been cut after it was committed), then overwritten by the next append', () => {
    const stored = appended([[['a', [0, 1]]], [['a', [1, 2]]]]);
    const torn = stored.bytes.subarray(0, stored.bytes.length - 3);
    const reader = new MetaLog();
    const read = reader.read(torn, new QueueState(), NOW);
    expect(read.damaged).toBe(true);
    expect(read.state.head).toBe(1);
    const part = reader.write([['a', [5, 6]]], read.state, false, NOW, 0);
    expect(part.metaAppend!.offset).toBe(stored.bytes.length - encodeRecordLength([['a', [1, 2]]]));
  });

  it('records cut off at a record\'s end are said to be missing, after a reset too (what is read again is read whole)', () => {
    const stored = appended([[['a', [0, 1]]], [['a', [1, 2]]], [['a', [2, 3]]]]);
    // The last two records gone, at a frame boundary: what is left reads as a clean, shorter log.
    const cut = stored.bytes.subarray(0, stored.bytes.length - 2 * encodeRecordLength([['a', [1, 2]]]));
    expect(new MetaLog().read(cut, new QueueState(), NOW).damaged).toBeUndefined();
    for (const reset of [false, true]) {
      const reader = new MetaLog();
      expect(reader.read(stored.bytes, new QueueState(), NOW).state.head).toBe(3);
      if (reset) reader.reset();
      const read = reader.read(cut, new QueueState(), NOW);
      expect(read.damaged).toBe(true);
      expect(read.state.head).toBe(1);
    }
  });

  it('after a reset, builds the state again from the checkpoint, and writes the state whole', () => {
    const stored = appended([[['a', [0, 1]]], [['a', [1, 2]]]]);
    const reader = new MetaLog();
    const wrong = reader.read(stored.bytes, new QueueState(), NOW).state;
    // Ops the store never took: the state is no longer what is stored.
    wrong.apply(['a', [2, 9]]);
    reader.reset();
    expect(reader.started).toBe(false);
    expect(reader.write([['a', [9, 10]]], wrong, false, NOW, 0).meta).toBeDefined();
    const read = reader.read(stored.bytes, wrong, NOW);
    expect(read.damaged).toBeUndefined();
    expect(read.state.head).toBe(2);
    expect(reader.started).toBe(true);
  });

  it('damage with valid records after it is reported, and what follows it dropped', () => {
    const stored = appended([[['a', [0, 1]]], [['a', [1, 2]]], [['a', [2, 3]]]]);
    const bytes = stored.bytes.slice();
    const second = bytes.length - 2 * encodeRecordLength([['a', [1, 2]]]);
    bytes[second + 10] = bytes[second + 10]! ^ 0xff;
    const read = new MetaLog().read(bytes, new QueueState(), NOW);
    expect(read.damaged).toBe(true);
    expect(read.state.head).toBe(1);
  });

  it('a checkpoint that does not read is unreadable; one of a newer format is ERR_INCOMPATIBLE_STORE', () => {
    expect(new MetaLog().read(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), new QueueState(), NOW).unreadable).toBe(true);
    const newer = new TextEncoder().encode(JSON.stringify({ v: 99, head: 0 }));
    try {
      new MetaLog().read(encodeUnit(newer, [newer.length]), new QueueState(), NOW);
      expect.unreachable();
    } catch (error) {
      expect((error as SluiceError).code).toBe('ERR_INCOMPATIBLE_STORE');
    }
  });

  it("a record of a kind this version does not know (a newer version's) is ERR_INCOMPATIBLE_STORE, not skipped", () => {
    const stored = appended([[['a', [0, 2]]]]);
    const log = new MetaLog();
    const state = new QueueState();
    log.read(stored.bytes, state, NOW);
    stored.write(log.write([['x', [2, 4]] as unknown as Op], state, false, NOW, 0));
    expect(() => new MetaLog().read(stored.bytes, new QueueState(), NOW)).toThrow(expect.objectContaining({ code: 'ERR_INCOMPATIBLE_STORE', message: expect.stringContaining('("x")') }));
  });

  it('reads the first format (version 1) of an earlier release', () => {
    const v1 = new TextEncoder().encode(
      JSON.stringify({ v: 1, head: 3, acked: [[5, 7]], attempts: [[3, 5, 2]], holds: [{ lease: 'l', owner: 'o', until: 2_000, ranges: [[3, 4]] }] }),
    );
    const { state } = new MetaLog().read(encodeUnit(v1, [v1.length]), new QueueState(), NOW);
    expect(view(state)).toEqual({ head: 3, acked: [[5, 7]], attempts: [[3, 5, 2]], holds: [JSON.stringify(['l', 'o', 2_000, [[3, 4]]])] });
  });

  // Before, records were appended after it: the release that wrote it, rolled back to, read the checkpoint alone and
  // delivered every item acked since again, unreported.
  it('writes the state whole, in its own format, after reading one of the first format: never a record after it', () => {
    const v1 = new TextEncoder().encode(JSON.stringify({ v: 1, head: 3, acked: [], attempts: [], holds: [] }));
    const log = new MetaLog();
    const state = new QueueState();
    log.read(encodeUnit(v1, [v1.length]), state, NOW);
    const first = commit(log, state, [['a', [3, 5]]]);
    expect(first.metaAppend).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(first.meta!.subarray(8)))).toMatchObject({ v: 2, acked: [3, 5] });
    // From then on, records follow it as usual.
    expect(commit(log, state, [['a', [5, 6]]]).metaAppend).toBeDefined();
  });

  it('writes the state whole again once the records outgrow it', () => {
    const log = new MetaLog();
    const state = new QueueState();
    let wholes = 0;
    for (let i = 0; i < 5_000; i++) {
      if (commit(log, state, [['a', [i, i + 1]]]).meta) wholes++;
    }
    expect(wholes).toBeGreaterThan(1);
    expect(wholes).toBeLessThan(20);
  });
});

function encodeRecordLength(ops: Op[]): number {
  return new TextEncoder().encode(JSON.stringify(ops)).length + 8;
}
