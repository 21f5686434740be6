import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/core/queue.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FakeClock } from '../support/fake-clock.js';

// How an iterator waits: on what (pushes, other handles' commits, holds ending), and what it holds meanwhile.

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
/** What `promise` settles with, or 'still waiting' after a second (a wait that hangs). */
const withinASecond = (promise: Promise<unknown>) => Promise.race([promise, new Promise((resolve) => setTimeout(resolve, 1000, 'still waiting'))]);

describe('Queue.iterate()', () => {
  it("takes an item whose lease ended while its take was out (the wall clock moved on between the take's reading and the wait's)", async () => {
    // A wall clock that moves a millisecond at each reading, as a real one moves during a take's work.
    const clock = new FakeClock();
    let moving = false;
    const read = clock.now.bind(clock);
    clock.now = () => {
      const now = read();
      if (moving) clock.step(1);
      return now;
    };
    const store = new MemoryStore();
    const a = await Queue.open<string>({ name: 'q', store, clock });
    const b = await Queue.open<string>({ name: 'q', store, clock });
    await a.push('x');
    await a.take(1, { leaseMs: 5 });
    moving = true;
    const next = b.iterate().next();
    await tick();
    moving = false;
    // Nothing more comes (no push, no commit): only the end of a's lease is left to wake b.
    clock.advance(60_000);
    const got = await withinASecond(next);
    expect(got).toMatchObject({ value: { entries: [{ value: 'x' }] } });
    await (got as { value: { ack(): Promise<void> } }).value.ack();
    await a.close();
    await b.close();
  });

  // MemoryStore tells of other handles' commits, as FileStore does: the wait has no poll to end it, and in Node the
  // store's notices keep no process alive. The timer it holds is what does (see test/stores/fs/iterate-alive).
  it('holds a timer from the clock while it waits for items, and none once it ends (queue closed, signal aborted)', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const q = await Queue.open<number>({ name: 'q', store, clock });
    await q.push(1);
    await (await q.take(1))!.ack();
    expect(clock.pending).toBe(0);
    const abort = new AbortController();
    const aborted = q.iterate({ signal: abort.signal }).next();
    await tick();
    expect(clock.pending).toBe(1);
    abort.abort();
    expect(await aborted).toEqual({ done: true, value: undefined });
    expect(clock.pending).toBe(0);
    const closed = q.iterate().next();
    await tick();
    expect(clock.pending).toBe(1);
    await q.close();
    expect(await closed).toEqual({ done: true, value: undefined });
    expect(clock.pending).toBe(0);
  });

  it('a wait with no end runs no timer callback in a busy loop', async () => {
    const clock = new FakeClock();
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore(), clock });
    const next = q.iterate().next();
    await tick();
    const fired = clock.fired;
    clock.advance(365 * 24 * 3600 * 1000);
    // Re-armed every 2^31 - 1 ms (about 24.8 days): some 15 times a year.
    expect(clock.fired - fired).toBeLessThan(20);
    await q.push(1);
    expect((await next).value?.entries.map((e) => e.value)).toEqual([1]);
    await q.close();
  });

  it('wakes when a lease another handle took since this one last looked runs out', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const a = await Queue.open<number>({ name: 'q', store, clock });
    const b = await Queue.open<number>({ name: 'q', store, clock });
    const iterated = a.iterate({ max: 1 })[Symbol.asyncIterator]();
    // a waits once (so it is told of b's commits from then on), then takes 1 of 2 and acks it.
    const first = iterated.next();
    await tick();
    await b.pushMany([1, 2]);
    await (await first).value!.ack();
    // b takes 2 while a's iterator waits for no one (a has not read that take), and then never acks it.
    expect((await b.take(1, { leaseMs: 1000 }))?.entries.map((e) => e.value)).toEqual([2]);
    const second = iterated.next();
    await tick();
    clock.advance(1000);
    const woke = second.then(({ value }) => value?.entries.map((e) => e.value));
    expect(await withinASecond(woke)).toEqual([2]);
    await a.close();
    await b.close();
  });

  it('a wall-clock step forward (NTP, a laptop waking) ends its wait for a delay within a minute, not at the delay\'s monotonic end', async () => {
    const clock = new FakeClock();
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore(), clock });
    await q.push(1);
    await (await q.take(1))!.release(undefined, { delayMs: 3_600_000 });
    const next = q.iterate().next();
    await tick();
    clock.step(3_600_000);
    clock.advance(60_000);
    const woke = next.then(({ value }) => value?.entries.map((e) => e.value));
    expect(await withinASecond(woke)).toEqual([1]);
    await q.close();
  });

  it('return() while next() waits for items ends the wait at once: next() is done, and the next push is for other consumers', async () => {
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore() });
    const iterator = q.iterate();
    const waiting = iterator.next();
    await tick();
    const settled = await withinASecond(iterator.return());
    expect(settled).toEqual({ done: true, value: undefined });
    expect(await waiting).toEqual({ done: true, value: undefined });
    await q.push(1);
    expect((await q.take(1))?.entries).toMatchObject([{ value: 1, attempts: 1 }]);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    await q.close();
  });

  it('throw() and asyncDispose end a waiting iteration the same way', async () => {
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore() });
    const thrown = q.iterate();
    const first = thrown.next();
    await tick();
    await expect(thrown.throw(new Error('enough'))).rejects.toThrow('enough');
    expect(await first).toEqual({ done: true, value: undefined });
    const disposed = q.iterate();
    const second = disposed.next();
    await tick();
    await disposed[Symbol.asyncDispose]();
    expect(await second).toEqual({ done: true, value: undefined });
    await q.push(1);
    expect(await q.stats()).toMatchObject({ size: 1, leased: 0 });
    await q.close();
  });

  it('return() while next() is taking: what the take got goes back untried, for other consumers', async () => {
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore() });
    await q.pushMany([1, 2]);
    const iterator = q.iterate();
    const taking = iterator.next();
    const ended = iterator.return();
    expect(await taking).toEqual({ done: true, value: undefined });
    expect(await ended).toEqual({ done: true, value: undefined });
    expect((await q.take(2))?.entries).toMatchObject([{ value: 1, attempts: 1 }, { value: 2, attempts: 1 }]);
    await q.close();
  });

  it('an idle iterator with nothing held takes nothing until woken: no look at the clock without a wall time to wait for', async () => {
    const clock = new FakeClock();
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore(), clock });
    const taken = { count: 0 };
    const take = q.take.bind(q);
    q.take = (...args) => (taken.count++, take(...args));
    const next = q.iterate().next();
    await tick();
    for (let minute = 0; minute < 10; minute++) {
      clock.advance(60_000);
      await tick();
    }
    // Its first look, and the one a new watcher is woken for; a look a minute would be 12.
    expect(taken.count).toBeLessThanOrEqual(2);
    await q.close();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('a loop begun on a closed queue rejects ERR_CLOSED, as every call on it does; one running when it closes ends quietly', async () => {
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore() });
    const running = q.iterate().next();
    await tick();
    await q.close();
    expect(await running).toEqual({ done: true, value: undefined });
    await expect(q.iterate().next()).rejects.toMatchObject({ name: 'SluiceError', code: 'ERR_CLOSED' });
    const loop = async () => {
      for await (const lease of q) await lease.ack();
    };
    await expect(loop()).rejects.toMatchObject({ name: 'SluiceError', code: 'ERR_CLOSED' });
  });

  it('return() while a take is in flight and the queue closes meanwhile: the iteration ends quietly, the items go back', async () => {
    const store = new MemoryStore();
    const q = await Queue.open<number>({ name: 'q', store });
    await q.pushMany([1, 2]);
    const iterator = q.iterate();
    const taking = iterator.next();
    const ended = iterator.return();
    await q.close();
    expect(await taking).toEqual({ done: true, value: undefined });
    expect(await ended).toEqual({ done: true, value: undefined });
    const again = await Queue.open<number>({ name: 'q', store });
    expect(await again.stats()).toMatchObject({ size: 2, leased: 0 });
    await again.close();
  });
});

