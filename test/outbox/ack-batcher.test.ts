import { describe, expect, it, vi } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { AckBatcher, ofAcks } from '../../src/outbox/ack-batcher.js';
import { FakeClock } from '../support/fake-clock.js';

describe('AckBatcher', () => {
  // Before, nothing was told here: each add's caller said the failure, once per response in the commit.
  it('tells a failed commit once, naming how many tasks it covered, and rejects each add in it with the store error', async () => {
    const refused = new SluiceError('ERR_STORAGE', 'The store failed to commit to queue "api".');
    const commit = vi.fn(async () => Promise.reject(refused));
    const failed = vi.fn();
    const acks = new AckBatcher(commit, { clock: new FakeClock(), busy: () => false, failed });
    const lease = {};
    const adds = [acks.add(['1'], lease), acks.add(['2', '3'], lease), acks.add(['4'], lease)];
    const outcomes = await Promise.allSettled(adds);
    expect(commit).toHaveBeenCalledOnce();
    expect(outcomes).toEqual(adds.map(() => ({ status: 'rejected', reason: refused })));
    expect(failed).toHaveBeenCalledOnce();
    expect(failed.mock.calls[0]![0]).toMatchObject({ code: 'ERR_STORAGE', cause: refused, message: expect.stringContaining('the ack of 4 delivered tasks') });
  });

  it("keeps a store failure's code, says one task as one, and tells other errors as they are", () => {
    const full = new SluiceError('ERR_QUOTA_EXCEEDED', 'The disk is full.');
    expect(ofAcks(full, 1)).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED', cause: full, message: expect.stringContaining('the ack of 1 delivered task:') });
    for (const other of [new SluiceError('ERR_CLOSED', 'closed'), new SluiceError('ERR_LEASE_EXPIRED', 'expired'), new Error('not a store error')]) expect(ofAcks(other, 2)).toBe(other);
  });
});
