// An outbox tells what its queues repaired or found lost, as a queue does: 'recover' and 'corrupt' on the outbox.
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CorruptDetail, RecoverDetail } from '../../src/core/events.js';
import { FileStore } from '../../src/fs.js';
import { Outbox } from '../../src/index.node.js';
import type { OutboxOptions } from '../../src/outbox/options.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-outbox-damage-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const never: typeof fetch = () => Promise.reject(new TypeError('offline'));

/** Opens the outbox 'api' and collects its 'recover' and 'corrupt' events, from the moment open resolves. */
async function open(extra: Partial<OutboxOptions> = {}) {
  const heard: { recover: RecoverDetail[]; corrupt: CorruptDetail[] } = { recover: [], corrupt: [] };
  const outbox = await Outbox.open({ name: 'api', store: new FileStore({ dir }), baseUrl: 'http://127.0.0.1:59', fetch: never, ...extra });
  outbox.addEventListener('recover', (e) => heard.recover.push(e.detail));
  outbox.addEventListener('corrupt', (e) => heard.corrupt.push(e.detail));
  await new Promise((resolve) => setTimeout(resolve, 10));
  return { outbox, heard };
}

describe("an outbox's queues repaired on open", () => {
  it("its metadata gone: 'recover' on the outbox, naming the queue and the tasks that may be sent again", async () => {
    const first = await open();
    await first.outbox.enqueueMany([{ url: '/a' }, { url: '/b' }]);
    await first.outbox.close();
    unlinkSync(join(dir, 'api', 'meta'));
    const { outbox, heard } = await open();
    try {
      expect(heard.recover).toMatchObject([{ queue: 'api', kind: 'meta-missing' }]);
      expect(await outbox.size()).toBe(2);
    } finally {
      await outbox.close();
    }
  });

  it("stored tasks that fail their checksum: open rejects with ERR_CORRUPT; with corruption 'skip' the loss is told on the outbox", async () => {
    const first = await open();
    // Two commits: damage in the last one alone would pass for a torn write.
    await first.outbox.enqueue({ url: '/a', body: 'x'.repeat(100) });
    await first.outbox.enqueue({ url: '/b', body: 'y'.repeat(100) });
    await first.outbox.close();
    const segment = join(dir, 'api', '0000000000000000.seg');
    const bytes = readFileSync(segment);
    bytes[40]! ^= 0xff;
    writeFileSync(segment, bytes);
    await expect(open()).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    const { outbox, heard } = await open({ corruption: 'skip' });
    try {
      // Damage in the newest segment, with valid data after it: cut there, said as a cut that was damage.
      expect(heard.recover).toEqual(expect.arrayContaining([expect.objectContaining({ queue: 'api', kind: 'tail', offset: 0, corrupt: true })]));
      expect(await outbox.size()).toBe(0);
    } finally {
      await outbox.close();
    }
  });

  it("rejects a corruption option that is not 'throw' or 'skip'", async () => {
    await expect(open({ corruption: 'ignore' as 'skip' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});
