// What `flush()` resolves when it is not the only run: a flush waits until every request out has settled, whichever
// run started it, and says what delivery did meanwhile. Counted only in the run that took a task, a flush after an
// aborted one, beside another, or while the outbox runs could say `sent: 0` while its 'sent' events came.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig({ ordering: 'none', concurrency: 4 });
  // Answered after a moment: the requests are still out when the next flush starts.
  r.server.script(() => ({ delayMs: 100 }));
});
afterEach(() => r.teardown());

const tasks = (n: number) => Array.from({ length: n }, (_, i) => ({ url: `/t${i}`, id: `t${i}` }));

describe('what flush() resolves beside other runs', () => {
  it('after an aborted flush: counts what it sends, the tasks the aborted one took ahead included, and their retries go again', async () => {
    r.server.plan('t4', [{ status: 503 }]).plan('t5', [{ status: 503 }]);
    await r.outbox.enqueueMany(tasks(6));
    const controller = new AbortController();
    const aborted = r.outbox.flush({ signal: controller.signal });
    // 4 out; t4 and t5 taken ahead by the aborted flush, started by the next one.
    await r.server.waitFor(4);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    const sent = r.events('sent').length;
    expect(await r.outbox.flush()).toMatchObject({ sent: 4, retried: 2, remaining: 2 });
    expect(r.events('sent').length - sent).toBe(4);
    // Parked for the aborted flush, they would never go again.
    r.clock.advance(60_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
  });

  it('an aborted flush whose own requests fail after it ended: their retries go again, not parked for it for good', async () => {
    r.server.plan('t0', [{ status: 503, delayMs: 100 }]);
    await r.outbox.enqueueMany(tasks(1));
    const controller = new AbortController();
    const aborted = r.outbox.flush({ signal: controller.signal });
    await r.server.waitFor(1);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    // Its request answers 503 after the flush ended.
    for (let i = 0; i < 200 && r.events('retry').length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    r.clock.advance(60_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
  });

  it('two at once: each says what was sent while it ran, not one all and the other none', async () => {
    await r.outbox.enqueueMany(tasks(8));
    const first = r.outbox.flush();
    await r.server.waitFor(1);
    const second = r.outbox.flush();
    const done = { sent: 8, retried: 0, dead: 0, handedOver: 0, remaining: 0 };
    expect(await Promise.all([first, second])).toEqual([done, done]);
    expect(r.events('sent')).toHaveLength(8);
  });

  it('while the outbox runs: says what the background delivery sent while it waited', async () => {
    await r.outbox.enqueueMany(tasks(8));
    r.outbox.start();
    await r.server.waitFor(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 8, remaining: 0 });
    expect(r.events('sent')).toHaveLength(8);
  });
});
