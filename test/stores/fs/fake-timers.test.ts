// An app's tests with fake timers (vitest's, installed after sluice loaded, as a beforeEach does): the lock's own waits
// and hand-overs between two handles of one queue must still run, whatever the test advances or not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';

const realSetTimeout = setTimeout;
let dir = '';
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** Within `ms` of real time, or 'hung'. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'hung'> {
  return Promise.race([p, new Promise<'hung'>((resolve) => realSetTimeout(() => resolve('hung'), ms))]);
}

const fakes = [
  ['every timer (the defaults)', undefined],
  ['setTimeout alone', ['setTimeout', 'clearTimeout']],
  ['performance and Date', ['performance', 'Date']],
] as const;

it.each(fakes)('two handles of one queue push at once under fake timers (%s): every push lands', async (_, toFake) => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-fake-timers-'));
  // A producer and a consumer module, each opening the queue.
  const a = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir }) });
  const b = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir }) });
  vi.useFakeTimers(toFake ? { toFake: [...toFake] } : undefined);
  const pushed = await within(Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).push(i))), 5000);
  expect(pushed).not.toBe('hung');
  expect(await within(a.size(), 5000)).toBe(20);
  expect(await within(Promise.all([a.close(), b.close()]), 5000)).not.toBe('hung');
});
