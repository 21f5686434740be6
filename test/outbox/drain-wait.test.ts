// `outbox.whenDrained()`: the promise a script awaits before it exits. It must not resolve while a task is pending,
// must not miss an emptiness told before the call or by another handle, and must end with the outbox or a signal.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';
import { FileStore } from '../../src/fs.js';
import type { Store } from '../../src/core/store.js';
import { bundle, exited, type Bundle } from '../platform/cli/child.js';
import { DrainWaits } from '../../src/outbox/drain-wait.js';
import { systemClock } from '../../src/core/clock.js';

/** A transport whose answers the test gives, one request at a time. */
function held(): { fetch: typeof fetch; requests: string[]; answer: (status?: number) => void } {
  const requests: string[] = [];
  const answers: ((status: number) => void)[] = [];
  return {
    requests,
    fetch: async (input) => {
      requests.push(new URL(String(input instanceof Request ? input.url : input)).pathname);
      const status = await new Promise<number>((resolve) => answers.push(resolve));
      return new Response(null, { status });
    },
    answer: (status = 200) => answers.shift()!(status),
  };
}

const opened: Outbox[] = [];
async function open(store: Store = new MemoryStore(), transport: typeof fetch = async () => new Response(null, { status: 200 })): Promise<Outbox> {
  const outbox = await Outbox.open({ name: 'api', store, baseUrl: 'https://api.test', fetch: transport, retry: { initialDelayMs: 10, maxDelayMs: 10 } });
  opened.push(outbox);
  return outbox;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

/** Whether `promise` has settled after pending callbacks and a little real time have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  return done;
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('outbox.whenDrained()', () => {
  it('resolves at once when nothing is pending, though no \'drained\' is said for an outbox opened empty', async () => {
    const outbox = await open();
    await expect(outbox.whenDrained()).resolves.toBeUndefined();
  });

  it('resolves only once every task is sent or dead, not while one is in flight or waiting to retry', async () => {
    const server = held();
    const outbox = await open(new MemoryStore(), server.fetch);
    await outbox.enqueueMany([{ url: '/a' }, { url: '/b' }, { url: '/c' }]);
    const drained = outbox.whenDrained();
    outbox.start();
    await until(() => server.requests.length === 1);
    server.answer(200);
    await until(() => server.requests.length === 2);
    server.answer(503); // /b waits to retry
    await until(() => server.requests.length === 3);
    expect(await settled(drained)).toBe(false);
    server.answer(200); // /b again
    await until(() => server.requests.length === 4);
    expect(await settled(drained)).toBe(false);
    server.answer(400); // /c: dead
    await drained;
    expect(server.requests).toEqual(['/a', '/b', '/b', '/c']);
    expect(await outbox.size()).toBe(0);
    expect((await outbox.dead.list()).map((d) => d.task.url)).toEqual(['https://api.test/c']);
  });

  it('resolves when another handle delivers the last task, this one never started', async () => {
    const store = new MemoryStore();
    const waiting = await open(store);
    const delivering = await open(store);
    await waiting.enqueue({ url: '/a' });
    const drained = waiting.whenDrained();
    expect(await settled(drained)).toBe(false);
    expect(await delivering.flush()).toMatchObject({ sent: 1, remaining: 0 });
    await drained;
  });

  it('resolves when a handle on another FileStore of the same directory (another process, say) delivers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-drain-wait-'));
    try {
      const waiting = await open(new FileStore({ dir }));
      const delivering = await open(new FileStore({ dir }));
      await waiting.enqueueMany([{ url: '/a' }, { url: '/b' }]);
      const drained = waiting.whenDrained();
      expect(await settled(drained)).toBe(false);
      expect(await delivering.flush()).toMatchObject({ sent: 2, remaining: 0 });
      await drained;
    } finally {
      await Promise.all(opened.splice(0).map((o) => o.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('waits again for tasks stored after an emptiness, and resolves at once for each waiter once empty', async () => {
    const outbox = await open();
    await outbox.enqueue({ url: '/a' });
    const first = outbox.whenDrained();
    await outbox.flush();
    await first;
    await outbox.enqueue({ url: '/b' });
    const second = outbox.whenDrained();
    expect(await settled(second)).toBe(false);
    outbox.start();
    await Promise.all([second, outbox.whenDrained()]);
  });

  it('rejects with the signal\'s reason at the abort, and at once for a signal aborted already; the tasks stay', async () => {
    const outbox = await open();
    await outbox.enqueue({ url: '/a' });
    const abort = new AbortController();
    const drained = outbox.whenDrained({ signal: abort.signal });
    abort.abort(new Error('gave up'));
    await expect(drained).rejects.toThrow('gave up');
    await expect(outbox.whenDrained({ signal: AbortSignal.abort('no') })).rejects.toBe('no');
    await expect(outbox.whenDrained({ signal: AbortSignal.timeout(20) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(await outbox.size()).toBe(1);
  });

  it('rejects ERR_CLOSED when the outbox closes first, and when called on a closed outbox', async () => {
    const outbox = await open();
    await outbox.enqueue({ url: '/a' });
    const drained = outbox.whenDrained();
    await outbox.close();
    await expect(drained).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(outbox.whenDrained()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it.each([null, 1, 'x', { signal: 'x' }, { other: 1 }])('refuses options %j with ERR_INVALID_OPTION', async (options) => {
    const outbox = await open();
    await expect(outbox.whenDrained(options as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});

describe('the waits behind whenDrained()', () => {
  /** Waits over a target whose counts the test answers, one at a time. */
  function counted() {
    const target = new EventTarget();
    const counts: ((n: number) => void)[] = [];
    const waits = new DrainWaits(target, () => new Promise<number>((resolve) => counts.push(resolve)), () => systemClock);
    return { target, waits, counts, answer: (n: number) => counts.shift()!(n) };
  }

  it('a wait that comes while a count is out is not resolved by it: the task stored before the wait is counted', async () => {
    const { waits, counts, answer } = counted();
    const first = waits.wait(undefined);
    expect(counts).toHaveLength(1);
    // Here the caller stores a task and waits again, while the count started before it is still out.
    const second = waits.wait(undefined);
    answer(0); // read before the task was stored
    await first;
    expect(await settled(second)).toBe(false);
    expect(counts).toHaveLength(1); // counted again for the second
    answer(1);
    expect(await settled(second)).toBe(false);
    expect(counts).toHaveLength(0); // till an event, or the close
    waits.close(new Error('closed'));
    await expect(second).rejects.toThrow('closed');
    await expect(waits.wait(undefined)).rejects.toThrow('closed');
  });

  it('events count again, one count at a time however many come, and end every wait at 0', async () => {
    const { target, waits, counts, answer } = counted();
    const all = Promise.all(Array.from({ length: 3 }, () => waits.wait(undefined)));
    answer(2);
    await settled(all);
    for (let i = 0; i < 5; i++) target.dispatchEvent(new Event('change'));
    expect(counts).toHaveLength(1);
    answer(1);
    await settled(all);
    expect(counts).toHaveLength(1); // the events that came during it: one count more
    target.dispatchEvent(new Event('drained'));
    answer(0);
    await all;
    target.dispatchEvent(new Event('change'));
    expect(counts).toHaveLength(0); // nobody waits: nothing counted, nothing listened to
  });

  it('twenty waits at once add one listener of each kind (no warning from Node), and all end together', async () => {
    const warnings: Error[] = [];
    const warn = (warning: Error) => warnings.push(warning);
    process.on('warning', warn);
    try {
      const outbox = await open();
      await outbox.enqueue({ url: '/a' });
      const signal = new AbortController().signal;
      const waits = Array.from({ length: 20 }, (_, i) => outbox.whenDrained(i % 2 ? { signal } : undefined));
      await outbox.flush();
      await Promise.all(waits);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', warn);
    }
  });
});

// A script whose last line is `await outbox.whenDrained()`, while another process delivers: the store's change
// notices keep no Node process alive, so the wait must, or the script exits (code 13, an unsettled top-level await)
// before its tasks are sent.
describe('outbox.whenDrained() in a Node process', () => {
  let sluice: Bundle;
  let dir: string;
  let child: ChildProcessWithoutNullStreams | undefined;
  beforeAll(async () => {
    sluice = await bundle();
    dir = mkdtempSync(join(tmpdir(), 'sluice-drain-alive-'));
  }, 60_000);
  afterAll(() => {
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    sluice.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the process alive until another process has delivered its task, then lets it exit', async () => {
    const script = `
      const outbox = await Outbox.open({ name: 'api', store: new FileStore({ dir: process.argv[1] }), baseUrl: 'https://api.test' });
      await outbox.enqueue({ url: '/a' });
      console.log('stored');
      await outbox.whenDrained();
      console.log('drained');
      await outbox.close();`;
    child = sluice.script(script, [dir]);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    const ending = exited(child);
    await until(() => out.includes('stored') || child!.exitCode !== null);
    await new Promise((resolve) => setTimeout(resolve, 500)); // time in which it would exit, were nothing holding it
    expect([child.exitCode, out]).toEqual([null, 'stored\n']);
    const delivering = await open(new FileStore({ dir }));
    expect(await delivering.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(await ending).toMatchObject({ code: 0, signal: null });
    expect(out).toBe('stored\ndrained\n');
  }, 60_000);
});
