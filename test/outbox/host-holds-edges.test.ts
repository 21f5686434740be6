import { afterEach, describe, expect, it, vi } from 'vitest';
import { FaultServer } from './fault-server.js';
import { HostHolds } from '../../src/outbox/host-holds.js';
import { Queue } from '../../src/core/queue.js';
import { rig, type Rig } from './helpers.js';

const io = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends 429 with Retry-After: `seconds` to the first request, 200 to every other. */
const limitFirst = (server: FaultServer, seconds = 60) => {
  let first = true;
  server.script(() => {
    if (!first) return undefined;
    first = false;
    return { status: 429, headers: { 'retry-after': String(seconds) } };
  });
};

describe('host holds: findings', () => {
  let r: Rig;
  let other: FaultServer | undefined;
  afterEach(async () => {
    await r.teardown();
    await other?.close();
    other = undefined;
  });

  it('a wall clock stepped back during a hold does not stretch the hold by the step', async () => {
    r = await rig({ ordering: 'none', concurrency: 1 });
    limitFirst(r.server, 60);
    await r.outbox.enqueue({ url: '/a' });
    await r.outbox.enqueue({ url: '/b' });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(100);
    expect(r.server.received).toHaveLength(1);
    // An hour back (NTP): the 60 s asked for must still end about 60 s from now, as the task's own wait does.
    r.clock.step(-3_600_000);
    for (let i = 0; i < 4; i++) {
      r.clock.advance(60_000);
      await io(50);
    }
    await io(100);
    expect(r.server.delivered.map((q) => q.path).sort()).toEqual(['/a', '/b']);
  });

  it('onBeforeSend that moves a task to another origin: the hold lands on the edited origin, the stored one is not held', async () => {
    other = await FaultServer.start();
    const target = other.url;
    // Tasks are stored for r.server's origin and sent to `other` (a region, a failover host, a proxy).
    r = await rig({ ordering: 'none', concurrency: 1, onBeforeSend: (task) => ({ ...task, url: task.url.replace(/^http:\/\/[^/]+/, target) }) });
    other.script(() => ({ status: 429, headers: { 'retry-after': '60' } }));
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/t${i}` });
    r.outbox.start();
    await other.waitFor(1);
    await io(300);
    // The host that answered asked for a minute's wait: one request, one attempt.
    expect(other.received).toHaveLength(1);
    expect(r.events('retry')).toHaveLength(1);
  });

  it("with batch, a task that goes alone (not batchable) and gets a Retry-After does not hold its host", async () => {
    r = await rig({ ordering: 'none', concurrency: 1, batch: { url: '/batch', maxItems: 10 } as never });
    r.server.script((q) => (q.path.startsWith('/put') ? { status: 429, headers: { 'retry-after': '60' } } : undefined));
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/put${i}`, method: 'PUT', body: 'x' });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(300);
    // Not a batch: its Retry-After holds its host, as README says of any answer judged a retry.
    expect(r.server.received).toHaveLength(1);
  });

  it('a Retry-After that sends its (old) task to dead as max-age holds no host: every other task there goes and is told the same', async () => {
    r = await rig({ ordering: 'none', concurrency: 1, retry: { maxAgeMs: 3_600_000 } });
    // The first task is old: 50 minutes when it is sent; the others are fresh.
    await r.outbox.enqueue({ url: '/old' });
    r.clock.advance(50 * 60_000);
    for (let i = 0; i < 5; i++) await r.outbox.enqueue({ url: `/fresh${i}` });
    // The host is rate limited for 15 minutes: each answer says so.
    r.server.script(() => ({ status: 429, headers: { 'retry-after': '900' } }));
    r.outbox.start();
    await r.server.waitFor(1);
    await io(400);
    expect(r.events('dead').map((d) => (d as { reason: string }).reason)).toContain('max-age');
    // The server asked for 15 minutes: the fresh tasks at that host wait them out unsent.
    expect(r.server.received).toHaveLength(1);
  });
});

describe('host holds: cost', () => {
  let r: Rig;
  let other: FaultServer | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await r.teardown();
    await other?.close();
    other = undefined;
  });

  it('a backlog at a held host is looked through at every take while other hosts deliver', async () => {
    r = await rig({ ordering: 'none', concurrency: 2 });
    other = await FaultServer.start();
    limitFirst(r.server, 3600);
    await r.outbox.enqueue({ url: '/first' });
    r.outbox.start();
    await r.server.waitFor(1);
    await io(100);
    const HELD = 2000;
    for (let i = 0; i < HELD; i += 500) await r.outbox.enqueueMany(Array.from({ length: 500 }, (_, j) => ({ url: `/held${i + j}` })));
    const looks = vi.spyOn(HostHolds.prototype, 'held');
    await r.outbox.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ url: `${other!.url}/free${i}` })));
    await other.waitFor(50);
    await io(100);
    expect(other.delivered).toHaveLength(50);
    expect(r.server.received).toHaveLength(1);
    // Choosing the next tasks should cost about the tasks chosen, not the held backlog at every take.
    expect(looks.mock.calls.length).toBeLessThan(50 * 20);
  });
});

describe('host holds: priority', () => {
  let r: Rig;
  let other: FaultServer | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await r.teardown();
    await other?.close();
    other = undefined;
  });

  for (const ordering of ['none', 'group'] as const) {
    it(`a high-priority task at a held host (${ordering}) does not make tasks to other hosts go back and be taken again at every turn`, async () => {
      r = await rig({ ordering, concurrency: 1 });
      other = await FaultServer.start();
      limitFirst(r.server, 3600);
      await r.outbox.enqueue({ url: '/first', group: 'a' });
      r.outbox.start();
      await r.server.waitFor(1);
      await io(100);
      await r.outbox.enqueue({ url: '/urgent', priority: 'high', group: 'c' });
      const takes = vi.spyOn(Queue.prototype, 'take');
      await r.outbox.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ url: `${other!.url}/free${i}`, group: 'b' })));
      await other.waitFor(40);
      await io(200);
      expect(other.delivered).toHaveLength(40);
      expect(r.server.received).toHaveLength(1);
      // Without the held task: about 6 takes (none) or 3 (group).
      expect(takes.mock.calls.length).toBeLessThan(12);
    });
  }
});
