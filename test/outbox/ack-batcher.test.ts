import { describe, expect, it } from 'vitest';
import { AckBatcher } from '../../src/outbox/ack-batcher.js';
import { FakeClock } from '../support/fake-clock.js';

describe('AckBatcher', () => {
  // Before, the acks that waited for a commit that failed went in the next one: a later task's ack landed while an
  // earlier one of its group was owed, which could then go again after it.
  it('fails the acks that waited for a commit that failed with it, without committing them', async () => {
    const commits: string[][] = [];
    let release!: () => void;
    const batcher = new AckBatcher(
      async (ids) => {
        commits.push(ids);
        if (commits.length === 1) {
          await new Promise<void>((resolve) => (release = resolve));
          throw new Error('store away');
        }
        return new Set<string>();
      },
      { clock: new FakeClock(), busy: () => false },
    );
    const lease = {};
    const first = batcher.add(['1'], lease);
    await Promise.resolve();
    await Promise.resolve();
    const second = batcher.add(['2'], lease);
    release();
    await expect(first).rejects.toThrow('store away');
    await expect(second).rejects.toThrow('store away');
    expect(commits).toEqual([['1']]);
    // Added once that drain ended, an ack commits as ever.
    await expect(batcher.add(['3'], lease)).resolves.toEqual(new Set());
    expect(commits).toEqual([['1'], ['3']]);
  });
});
