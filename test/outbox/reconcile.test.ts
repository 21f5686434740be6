import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import type { DeadRecord } from '../../src/outbox/dead-letters.js';
import { lettersOf, reconcile } from '../../src/outbox/reconcile.js';
import type { StoredTask } from '../../src/outbox/task.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { outboxQueue } from '../support/outbox-queue.js';

// What a crash between the two steps of a burial or of a dead-letter retry leaves, settled on the next open: the
// later decision stands, and a task that merely shares its id (an Idempotency-Key used again) is never taken for a twin.
let pending: Queue<StoredTask>;
let dead: Queue<DeadRecord>;
beforeEach(async () => {
  const store = new MemoryStore();
  pending = await Queue.open({ name: 'api', store });
  dead = await Queue.open({ ...outboxQueue, name: 'api.dead', store });
});
afterEach(async () => {
  await Promise.all([pending.close(), dead.close()]);
});

const task = (url: string, createdAt: number, id = 'order-17'): StoredTask => ({ id, url: `https://x.test${url}`, method: 'POST', headers: {}, createdAt });
const letter = (t: StoredTask, at: number, from?: string): DeadRecord => ({ task: t, reason: 'status', status: 400, attempts: 1, at, ...(from !== undefined && { from }) });
const settle = async () => [...(await reconcile(await pending.list(), pending, dead, await lettersOf(dead)))];
const urls = async () => ({ pending: (await pending.list()).map((e) => e.value.url.slice(14)), dead: (await dead.list()).map((e) => e.value.task.url.slice(14)) });

describe('reconcile', () => {
  it('a burial cut short: the entry its letter names leaves the outbox, and only that one', async () => {
    const [buried, other] = await pending.pushMany([task('/a', 1), task('/b', 2)]);
    await dead.push(letter(task('/a', 1), 10, buried));
    expect(await settle()).toEqual([buried]);
    expect(await urls()).toEqual({ pending: ['/b'], dead: ['/a'] });
    expect(other).toBeDefined();
  });

  it('a retry cut short: the letter the task names goes, and only that one', async () => {
    const [first, second] = await dead.pushMany([letter(task('/a', 1), 10, '0'), letter(task('/b', 2), 11, '1')]);
    await pending.push({ ...task('/a', 12), retriedFrom: first });
    expect(await settle()).toEqual([]);
    expect(await urls()).toEqual({ pending: ['/a'], dead: ['/b'] });
    expect(second).toBeDefined();
  });

  it('tasks that only share an id are both kept, whichever came first', async () => {
    // One went dead; another under the same id is pending (enqueued before, or after, the burial).
    const [earlier] = await pending.pushMany([task('/pending-before', 1)]);
    await dead.push(letter(task('/dead', 2), 5, '99'));
    await pending.push(task('/pending-after', 9));
    expect(await settle()).toEqual([]);
    expect(await urls()).toEqual({ pending: ['/pending-before', '/pending-after'], dead: ['/dead'] });
    expect(earlier).toBeDefined();
  });

  it('a retried task whose letter is gone (the retry finished) takes no other letter with it', async () => {
    const retried = await dead.push(letter(task('/a', 1), 10, '0'));
    await pending.push({ ...task('/a', 12), retriedFrom: retried });
    await dead.remove([retried]);
    // Another task under the same id went dead since.
    await dead.push(letter(task('/again', 20), 30, '5'));
    expect(await settle()).toEqual([]);
    expect(await urls()).toEqual({ pending: ['/a'], dead: ['/again'] });
  });

  it('a task buried again after its retry, both cut short: the last burial stands', async () => {
    // Letter 0 retried as the entry below; that entry went dead again (letter 1) before either step was undone.
    await dead.push(letter(task('/a', 1), 10, '0'));
    const [entry] = await pending.pushMany([{ ...task('/a', 11), retriedFrom: '0' }]);
    await dead.push(letter({ ...task('/a', 11), retriedFrom: '0' }, 20, entry));
    expect(await settle()).toEqual([entry]);
    expect((await dead.list()).map((e) => e.value.at)).toEqual([20]);
    expect(await pending.size()).toBe(0);
  });

  describe('letters of earlier versions (they name no entry)', () => {
    it('an exact copy of a pending task is its twin: the later of the two stands', async () => {
      const [buried] = await pending.pushMany([task('/a', 1)]);
      await dead.push(letter(task('/a', 1), 10));
      expect(await settle()).toEqual([buried]);
      await dead.clear();
      await dead.push(letter(task('/b', 1), 10));
      await pending.push(task('/b', 11));
      expect(await settle()).toEqual([]);
      expect(await urls()).toEqual({ pending: ['/b'], dead: [] });
    });

    it('a task that only shares the id is kept, and so is the letter', async () => {
      await pending.push(task('/pending', 1));
      await dead.push(letter(task('/dead', 2), 10));
      await pending.push(task('/later', 11));
      expect(await settle()).toEqual([]);
      expect(await urls()).toEqual({ pending: ['/pending', '/later'], dead: ['/dead'] });
    });
  });
});
