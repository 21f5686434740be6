import { describe, expect, it, vi } from 'vitest';
import { Queue } from '../../src/index.js';
import { localStores } from '../support/local-stores.js';

// MemoryStore and FileStore ('relaxed', synchronous file calls) settle every call in microtasks: before, a loop of
// awaited calls never ended its task, and no timer, I/O callback or signal handler (a SIGTERM that closes the queue)
// ran until the loop stopped.

const stores = localStores('sluice-serial-');

/** Runs `step` until a timer set before the loop fires, or for at most `limitMs`; says whether it fired. */
async function timerFiresDuring(step: () => Promise<unknown>, limitMs = 3000): Promise<boolean> {
  let fired = false;
  const timer = setTimeout(() => (fired = true), 1);
  const started = performance.now();
  while (!fired && performance.now() - started < limitMs) await step();
  clearTimeout(timer);
  return fired;
}

describe.each(stores)('a loop of awaited calls on %s lets the event loop turn', (_, store) => {
  it('pushes', async () => {
    const q = await Queue.open<number>({ name: 'q', store: store() });
    expect(await timerFiresDuring(() => q.push(1))).toBe(true);
    await q.close();
  });

  it('takes and acks', async () => {
    const q = await Queue.open<number>({ name: 'q', store: store() });
    await q.pushMany(Array.from({ length: 200_000 }, (_, i) => i));
    expect(await timerFiresDuring(async () => (await q.take(1))?.ack())).toBe(true);
    await q.close();
  });

  it('iterates a backlog', async () => {
    const q = await Queue.open<number>({ name: 'q', store: store() });
    await q.pushMany(Array.from({ length: 200_000 }, (_, i) => i));
    const leases = q.iterate({ max: 1 });
    expect(await timerFiresDuring(async () => (await leases.next()).value?.ack())).toBe(true);
    await leases.return(undefined);
    await q.close();
  });
});

// Before, it yielded by setTimeout(0) where there is no setImmediate: in a hidden tab, which runs timers at most once a
// second, every operation of a handle on IndexedDB then waited for one.
it('yields by message where there is no setImmediate (browsers): a timer held back (a hidden tab) holds up nothing', async () => {
  const { setImmediate: immediate, setTimeout: timeout } = globalThis;
  try {
    vi.resetModules();
    Object.assign(globalThis, { setImmediate: undefined, setTimeout: () => 0 });
    const { serial } = await import('../../src/core/serial.js');
    const line = serial();
    const started = performance.now();
    let runs = 0;
    while (performance.now() - started < 100) await line(() => runs++);
    expect(runs).toBeGreaterThan(0);
  } finally {
    Object.assign(globalThis, { setImmediate: immediate, setTimeout: timeout });
    vi.resetModules();
  }
});

// Before, an operation that waited on the event loop for 20 ms or more (a FileStore lock's turn) was taken for a hog:
// the next one gave a turn first, which ran what the wait's end put off to the end of its task (the lock kept for the
// ack, given up), and the ack waited a whole round of the other processes for it again.
it('an operation that waited on the event loop is no hog: the next runs in the same task', async () => {
  const { serial } = await import('../../src/core/serial.js');
  const line = serial();
  const order: string[] = [];
  await line(() => new Promise((resolve) => setTimeout(resolve, 40)));
  // What a hold's end puts off to the end of its task: the next operation must come first.
  setImmediate(() => order.push('end of task'));
  await line(() => order.push('next'));
  expect(order).toEqual(['next']);
});

// Before, only the event loop's idle time told that wait: a process held up past the timer's due time (a loaded
// machine) found it due without waiting for it, no idle was counted, and the next operation gave a turn first.
it('an operation that waited on the event loop is no hog when the process was held up past its timer', async () => {
  const { serial } = await import('../../src/core/serial.js');
  const line = serial();
  const order: string[] = [];
  await line(
    () =>
      new Promise((resolve) => {
        setTimeout(resolve, 40);
        // Held up after the loop's turn until the timer is due (as a process descheduled is): the loop never idles.
        setImmediate(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60));
      }),
  );
  setImmediate(() => order.push('end of task'));
  await line(() => order.push('next'));
  expect(order).toEqual(['next']);
});
