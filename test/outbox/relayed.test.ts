// What other handles relay over the channel is heard whatever it holds: a handle of another version (or anything else
// posted on the channel) may send what this one does not expect, and must not break it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Relayed } from '../../src/outbox/coordination.js';
import { PendingIndex } from '../../src/outbox/pending.js';
import { hear } from '../../src/outbox/relayed.js';
import type { StoredTask } from '../../src/outbox/task.js';
import { junk, RUNS } from '../support/bad-input.js';

const task = (id: string): StoredTask => ({ id, url: 'https://x.test/', method: 'POST', headers: {}, createdAt: 1 });

/** Messages of the kinds handles relay, their fields anything (structured clone keeps no functions or symbols). */
const cloned = junk('0', '1', 't0', 't1').filter((v) => typeof v !== 'function' && typeof v !== 'symbol');
const message = fc.oneof(
  cloned,
  fc.record(
    {
      type: fc.oneof(cloned, fc.constantFrom('sent', 'dead', 'handed-over', 'retry', 'released', 'removed')),
      entry: fc.oneof(cloned, fc.constantFrom('0', '1', '')),
      cause: cloned,
      detail: fc.oneof(
        cloned,
        fc.record({ task: fc.oneof(cloned, fc.record({ id: cloned })), delayMs: fc.oneof(cloned, fc.integer()), status: cloned, error: cloned, ids: cloned, entries: cloned }, { requiredKeys: [] }),
      ),
    },
    { requiredKeys: [] },
  ),
);

describe('hear()', () => {
  it('hears any messages without throwing, and the index still takes what it holds', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 6 }), (messages) => {
        const index = new PendingIndex('none');
        index.add(0, task('t0'), 0);
        index.add(1, task('t1'), 0);
        const now = 1_000;
        hear({ index, emit: () => undefined, waitsFrom: () => now, kick: () => undefined, withdrawal: () => undefined, checks: { heard: () => undefined } }, messages as Relayed[]);
        // Whatever was heard, the tasks still in the index are there to take, at once or later: those held on another
        // handle's word (parked) once the store has said (see RelayChecks).
        index.unpark([...index.values()]);
        const left = index.size;
        expect(index.take(10, Number.MAX_VALUE).length).toBe(left);
      }),
      { numRuns: RUNS * 10 },
    );
  });

  const hearing = (index: PendingIndex) => {
    const said: { type: string; detail: unknown }[] = [];
    const checked: { entry: string; type: string | undefined }[] = [];
    const context = {
      index,
      emit: (type: string, detail?: unknown) => void said.push({ type, detail }),
      waitsFrom: () => 1_000,
      kick: () => undefined,
      withdrawal: () => undefined,
      checks: { heard: (entry: string, type: string | undefined) => void checked.push({ entry, type }) },
    };
    return { said, checked, hear: (messages: unknown[]) => hear(context, messages as Relayed[]) };
  };

  it("ignores a 'sent', 'dead' or 'removed'-like claim whose task id is not the one indexed under its entry, or whose entry is no entry id", () => {
    const index = new PendingIndex('none');
    index.add(0, task('t0'), 0);
    const h = hearing(index);
    h.hear([
      { type: 'sent', entry: '0', detail: { task: { id: 'forged' }, status: 200 } },
      { type: 'dead', entry: '0', detail: { task: { id: 'forged' } } },
      { type: 'handed-over', entry: '0', detail: { task: { id: 'forged' } } },
      { type: 'retry', entry: '0', detail: { task: { id: 'forged' }, delayMs: 1e12 } },
      { type: 'sent', entry: '0x0', detail: { task: { id: 't0' } } },
      { type: 'sent', entry: '0', detail: { task: {} } },
      { type: 'sent', detail: { task: { id: 'unknown' } } },
    ]);
    expect(h.said).toEqual([]);
    expect(h.checked).toEqual([]);
    expect(index.take(10, 1_000).map((p) => p.id)).toEqual(['t0']);
  });

  it("a 'sent' that matches holds the task where it is (not offered), and is said only once checked (not at once)", () => {
    const index = new PendingIndex('none');
    index.add(0, task('t0'), 0);
    const h = hearing(index);
    h.hear([{ type: 'sent', entry: '0', detail: { task: { id: 't0' }, status: 200 } }]);
    expect(index.get(0)?.state).toBe('parked');
    expect(index.take(10, Number.MAX_VALUE)).toEqual([]);
    expect(h.said).toEqual([]);
    expect(h.checked).toEqual([{ entry: '0', type: 'sent' }]);
  });
});

