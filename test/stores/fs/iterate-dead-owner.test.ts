import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { bundle, type Bundle } from '../../platform/cli/child.js';

// A process killed while it holds leases commits nothing: a take finds it gone and frees its leases within a second,
// and before, a consumer waiting in `for await` slept until the leases ran out (here a minute).

let sluice: Bundle;
beforeAll(async () => {
  sluice = await bundle();
}, 60_000);
afterAll(() => sluice.remove());

const holder = `
  const [dir] = process.argv.slice(1);
  const queue = await Queue.open({ name: 'q', store: new FileStore({ dir }), leaseMs: 60_000 });
  const lease = await queue.take(50);
  console.log('took', lease.entries.length);
  setInterval(() => undefined, 1000);`;

it('a consumer waiting in for await gets the leased items of a process killed meanwhile, without waiting out the leases', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dead-owner-'));
  const queue = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }) });
  try {
    await queue.pushMany(Array.from({ length: 50 }, (_, i) => i));
    const child = sluice.script(holder, [dir]);
    await new Promise<void>((resolve) => child.stdout.setEncoding('utf8').on('data', (text: string) => text.includes('took 50') && resolve()));
    const abort = new AbortController();
    const got: number[] = [];
    const consuming = (async () => {
      for await (const lease of queue.iterate({ signal: abort.signal })) {
        got.push(...lease.entries.map((e) => e.value));
        await lease.ack();
        if (got.length === 50) abort.abort();
      }
    })();
    // Waiting, with nothing to take: every item is the holder's.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(got).toEqual([]);
    child.kill('SIGKILL');
    await consuming;
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  } finally {
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 20_000);
