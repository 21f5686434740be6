import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import { rig, type Rig } from './helpers.js';
import { outboxQueue } from '../support/outbox-queue.js';

let r: Rig;
beforeEach(async () => {
  r = await rig({ headers: () => ({ authorization: 'Bearer s3cret-token' }) });
});
afterEach(() => r.teardown());

/** Four tasks: 'retrying' (a 503), 'scheduled' (notBefore), and two in flight that the server holds. */
async function oneOfEach(): Promise<{ flushing: Promise<unknown> }> {
  r.server.plan('retrying', [{ status: 503 }]).plan('sending', [{ hang: true }]);
  await r.outbox.enqueue({ url: '/r', id: 'retrying', group: 'r' });
  await r.outbox.flush();
  await r.outbox.enqueueMany([
    { url: '/s', id: 'sending', group: 's', headers: { 'x-task': 'kept' }, body: { private: 'body' } },
    { url: '/n', id: 'scheduled', group: 'n', notBefore: r.clock.now() + 60_000 },
    { url: '/q', id: 'ready', group: 'q' },
  ]);
  // Both free tasks go, and the server holds them: they are 'sending' until it lets go.
  r.server.plan('ready', [{ hang: true }]);
  const flushing = r.outbox.flush();
  await r.server.waitFor(3);
  return { flushing };
}

describe('Outbox.list()', () => {
  it('shows each pending task with its state, attempts and last status, never headers or bodies', async () => {
    const { flushing } = await oneOfEach();
    const listed = await r.outbox.list();
    expect(listed.map((t) => [t.id, t.state])).toEqual([
      ['retrying', 'retrying'],
      ['sending', 'sending'],
      ['scheduled', 'scheduled'],
      ['ready', 'sending'],
    ]);
    expect(listed[0]).toMatchObject({ method: 'POST', url: `${r.server.url}/r`, group: 'r', attempts: 1, lastStatus: 503, nextAttemptAt: r.clock.now() + 500 });
    expect(listed[2]).toMatchObject({ nextAttemptAt: r.clock.now() + 60_000 });
    const text = JSON.stringify(listed);
    for (const secret of ['s3cret', 'kept', 'private', 'x-task']) expect(text).not.toContain(secret);
    await r.server.down();
    await flushing;
  });

  it('filters by state (one, or several), by group, and stops at limit', async () => {
    const { flushing } = await oneOfEach();
    expect((await r.outbox.list({ state: 'sending' })).map((t) => t.id)).toEqual(['sending', 'ready']);
    expect((await r.outbox.list({ state: ['retrying', 'scheduled'] })).map((t) => t.id)).toEqual(['retrying', 'scheduled']);
    expect((await r.outbox.list({ state: 'sending', limit: 1 })).map((t) => t.id)).toEqual(['sending']);
    expect((await r.outbox.list({ group: 'n', state: 'scheduled' })).map((t) => t.id)).toEqual(['scheduled']);
    expect(await r.outbox.list({ group: 'n', state: 'ready' })).toEqual([]);
    await expect(r.outbox.list({ state: 'stuck' as 'ready' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await r.server.down();
    await flushing;
  });

  it("a task ready to go is 'ready'; the last error of a network failure is its lastError", async () => {
    await r.outbox.enqueue({ url: '/a', id: 'a' });
    expect(await r.outbox.list({ state: 'ready' })).toMatchObject([{ id: 'a', state: 'ready', attempts: 0 }]);
    await r.server.down();
    await r.outbox.flush();
    expect(await r.outbox.list()).toMatchObject([{ id: 'a', state: 'retrying', attempts: 1, lastError: expect.any(String) }]);
  });
});

describe('Outbox.remove()', () => {
  it("withdraws pending tasks that are not in flight, and says 'change'", async () => {
    const { flushing } = await oneOfEach();
    let changes = 0;
    r.outbox.addEventListener('change', () => changes++);
    expect(await r.outbox.remove(['retrying', 'sending', 'unknown'])).toBe(1);
    await Promise.resolve();
    expect(changes).toBe(1);
    expect((await r.outbox.list()).map((t) => t.id)).toEqual(['sending', 'scheduled', 'ready']);
    await r.server.down();
    await flushing;
  });

  it('withdraws every pending task with the id, when tasks share it', async () => {
    await r.outbox.enqueueMany([{ url: '/a', id: 'order-17' }, { url: '/b', id: 'other' }, { url: '/c', id: 'order-17' }]);
    expect(await r.outbox.remove(['order-17'])).toBe(2);
    expect((await r.outbox.list()).map((t) => t.id)).toEqual(['other']);
  });

  it('refuses what is not an array of task ids (the tasks list() gives, say) with ERR_INVALID_OPTION, removing nothing', async () => {
    await r.outbox.enqueue({ url: '/a', id: 'a' });
    const listed = await r.outbox.list();
    for (const ids of [listed, [undefined], [1], 'a']) {
      await expect(r.outbox.remove(ids as never)).rejects.toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_OPTION' });
    }
    expect(await r.outbox.size()).toBe(1);
  });
});

describe('an outbox opened where no outbox keeps its tasks', () => {
  // Before, a name ending in '.dead' was refused only once its queue held letters: opened before, the two outboxes wrote
  // tasks and letters into one queue, and each then failed every call on the other's records.
  it("on another outbox's dead letters ('api.dead'), held or not yet: ERR_INVALID_NAME, and nothing of theirs changed", async () => {
    await expect(r.open({ name: 'api.dead' })).rejects.toMatchObject({ code: 'ERR_INVALID_NAME', message: expect.stringContaining('.dead') });
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/x', id: 'a' });
    await r.outbox.flush();
    await expect(r.open({ name: 'api.dead' })).rejects.toMatchObject({ code: 'ERR_INVALID_NAME' });
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id: 'a' }, reason: 'status' }]);
  });

  it("on a Queue's items: ERR_INCOMPATIBLE_STORE, and the queue's items are all there", async () => {
    const queue = await Queue.open<unknown>({ name: 'jobs', store: r.store });
    await queue.pushMany([{ kind: 'resize' }, 'text', 3]);
    await expect(r.open({ name: 'jobs' })).rejects.toMatchObject({ code: 'ERR_INCOMPATIBLE_STORE' });
    expect(await queue.stats()).toMatchObject({ size: 3, leased: 0 });
    await queue.close();
  });

  it("whose dead letters' queue holds items that are no dead letters (a Queue of the app's named 'jobs.dead'): ERR_INCOMPATIBLE_STORE, not a TypeError", async () => {
    const queue = await Queue.open<unknown>({ name: 'jobs.dead', store: r.store });
    await queue.pushMany([{ note: 'not a dead letter' }, { task: 'x', reason: 'status' }]);
    await expect(r.open({ name: 'jobs' })).rejects.toMatchObject({ code: 'ERR_INCOMPATIBLE_STORE', message: expect.stringContaining('no dead letter (id 0)') });
    expect(await queue.stats()).toMatchObject({ size: 2, leased: 0 });
    await queue.close();
  });

  it('holding a task whose body is of a kind this version does not know (a newer version stored it): ERR_INCOMPATIBLE_STORE, never sent empty', async () => {
    const queue = await Queue.open<unknown>({ name: 'later', store: r.store });
    const task = { id: 'n1', url: `${r.server.url}/x`, method: 'POST', headers: { 'content-type': 'application/json' }, createdAt: 0 };
    await queue.pushMany([{ ...task, body: { json: { a: 1 } } }, { ...task, id: 'n2', body: { zstd: 'KLUv/QBYAQAA' } }]);
    // The outbox's layout, as a newer version left it: its dead letters beside its queue.
    await (await Queue.open({ ...outboxQueue, name: 'later.dead', store: r.store })).close();
    await expect(r.open({ name: 'later' })).rejects.toMatchObject({ code: 'ERR_INCOMPATIBLE_STORE', message: expect.stringContaining('(n2) has a body of a kind this version of sluice does not know') });
    expect(r.server.received).toEqual([]);
    expect(await queue.stats()).toMatchObject({ size: 2, leased: 0 });
    await queue.close();
  });
});

