import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { Outbox } from '../../src/index.node.js';
import { failingCommit, hearingNothing, pass, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

describe('Outbox.enqueue() and flush()', () => {
  it('stores a task, then delivers it with its body, method and an Idempotency-Key equal to its id', async () => {
    const id = await r.outbox.enqueue({ url: '/notes', body: { text: 'hi' } });
    expect(await r.outbox.size()).toBe(1);
    expect(r.server.received).toHaveLength(0);
    expect(await r.outbox.flush()).toEqual({ sent: 1, retried: 0, dead: 0, handedOver: 0, remaining: 0 });
    const [got] = r.server.received;
    expect(got).toMatchObject({ method: 'POST', path: '/notes', key: id });
    expect(got!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got!.body.toString())).toEqual({ text: 'hi' });
    expect(r.events('sent')).toMatchObject([{ task: { id }, status: 200, attempts: 1 }]);
    expect(r.events('drained')).toHaveLength(1);
  });

  it('delivers a Request byte for byte with its method and headers', async () => {
    const bytes = new Uint8Array([0, 255, 1, 254, 10, 13]);
    await r.outbox.enqueue(new Request(`${r.server.url}/up`, { method: 'PUT', body: bytes, headers: { 'x-trace': 't1' } }));
    await r.outbox.flush();
    const [got] = r.server.received;
    expect(got).toMatchObject({ method: 'PUT', path: '/up' });
    expect(got!.headers['x-trace']).toBe('t1');
    expect(new Uint8Array(got!.body)).toEqual(bytes);
  });

  it("enqueueMany() stores all, returns their ids in order and says so in an 'enqueue' event", async () => {
    const heard: string[][] = [];
    r.outbox.addEventListener('enqueue', (e) => heard.push([...e.detail.ids]));
    const ids = await r.outbox.enqueueMany([{ url: '/a', id: 'one' }, { url: '/b' }]);
    expect(ids[0]).toBe('one');
    expect(heard).toEqual([ids]);
    await r.outbox.flush();
    expect(r.server.received.map((x) => x.key)).toEqual(ids);
  });

  it('rejects an invalid task with ERR_INVALID_TASK and stores nothing', async () => {
    await expect(r.outbox.enqueueMany([{ url: '/ok' }, { url: 'mailto:x@y.z' }])).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    expect(await r.outbox.size()).toBe(0);
  });

  it('enqueueMany() given one task, not an array: ERR_INVALID_TASK saying what it got and that enqueue takes one', async () => {
    const refused = r.outbox.enqueueMany({ url: '/ok' } as unknown as []);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: 'Expected `tasks` to be an array of tasks (enqueue takes one), got an object.' });
  });
});

describe('Outbox retry policy (fake clock)', () => {
  it('retries a 500 after a full-jitter delay, with the same Idempotency-Key, and not before', async () => {
    r.server.next({ status: 500 });
    const id = await r.outbox.enqueue({ url: '/x' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, retried: 1, remaining: 1 });
    // random() = 0.5 of the 1 000 ms ceiling of a first retry.
    expect(r.events('retry')).toMatchObject([{ attempts: 1, delayMs: 500, status: 500 }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, retried: 0 });
    expect(r.server.received).toHaveLength(1);
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
    expect(r.events('sent')).toMatchObject([{ attempts: 2 }]);
  });

  it('grows the delay by factor per attempt', async () => {
    r.server.next({ status: 503 }, { status: 503 }, { status: 503 });
    await r.outbox.enqueue({ url: '/x' });
    for (const delay of [500, 1000, 2000]) {
      await r.outbox.flush();
      r.clock.advance(delay);
    }
    await r.outbox.flush();
    expect(r.events('retry').map((e) => e.delayMs)).toEqual([500, 1000, 2000]);
    expect(r.events('sent')).toHaveLength(1);
  });

  it('waits as long as Retry-After says, in seconds', async () => {
    r.server.next({ status: 429, headers: { 'retry-after': '7' } });
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    expect(r.events('retry')).toMatchObject([{ delayMs: 7000, status: 429 }]);
    r.clock.advance(6999);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0 });
    r.clock.advance(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
  });

  it('waits until a Retry-After HTTP date', async () => {
    const at = new Date(r.clock.now() + 90_000).toUTCString();
    r.server.next({ status: 503, headers: { 'retry-after': at, date: new Date(r.clock.now()).toUTCString() } });
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    expect(r.events('retry')).toMatchObject([{ delayMs: 90_000 }]);
  });

  it("reads a Retry-After date on the server's clock (its Date): a client clock 10 minutes ahead still waits, and is no storm", async () => {
    const server = r.clock.now() - 600_000;
    r.server.script(() => ({ status: 503, headers: { 'retry-after': new Date(server + 60_000).toUTCString(), date: new Date(server).toUTCString() } }));
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    expect(r.events('retry')).toMatchObject([{ delayMs: 60_000 }]);
  });

  it('a Retry-After of no wait (0, or a date already past) is no storm of requests: the backoff applies', async () => {
    r.server.script(() => ({ status: 503, headers: { 'retry-after': '0' } }));
    await r.outbox.enqueue({ url: '/x' });
    r.outbox.start();
    await r.server.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await r.outbox.stop();
    // The backoff's first delay (random 0.5 of 1 s) has not passed on the test's clock: one request, not one a turn.
    expect(r.server.received).toHaveLength(1);
    expect(r.events('retry')).toMatchObject([{ delayMs: 500 }]);
  });

  it('sends a 400 and a 401 to dead with reason, last status and attempts', async () => {
    r.server.plan('a', [{ status: 400 }]).plan('b', [{ status: 401 }]);
    const [a, b] = await r.outbox.enqueueMany([{ url: '/a', id: 'a', group: 'a' }, { url: '/b', id: 'b', group: 'b' }]);
    expect(await r.outbox.flush()).toMatchObject({ dead: 2, remaining: 0 });
    // The two groups went in parallel: their burials may come in either order.
    const dead = (await r.outbox.dead.list()).sort((x, y) => x.task.id.localeCompare(y.task.id));
    expect(dead.map((d) => [d.task.id, d.reason, d.status, d.attempts])).toEqual([
      [a, 'status', 400, 1],
      [b, 'status', 401, 1],
    ]);
    expect(r.events('dead')).toHaveLength(2);
  });

  it("names each task's dead letter in its 'dead' event, what dead.retry takes", async () => {
    r.server.plan('a', [{ status: 400 }]);
    await r.outbox.enqueue({ url: '/a', id: 'a' });
    await r.outbox.flush();
    const { letter } = r.events('dead')[0]!;
    expect((await r.outbox.dead.list()).map((l) => l.id)).toEqual([letter]);
    expect(await r.outbox.dead.retry([letter])).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
    expect(await r.outbox.dead.list()).toEqual([]);
  });

  it('follows a custom classify, which sees the response and the task', async () => {
    const seen: string[] = [];
    await r.reopen({
      classify: (outcome, task) => {
        seen.push(task.url);
        return outcome instanceof Response && outcome.status === 404 ? 'sent' : 'dead';
      },
    });
    r.server.plan('gone', [{ status: 404 }]);
    await r.outbox.enqueueMany([{ url: '/gone', id: 'gone', group: 'a' }, { url: '/ok', group: 'b' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 1 });
    expect(seen.map((u) => new URL(u).pathname).sort()).toEqual(['/gone', '/ok']);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'status', status: 200 }]);
  });

  it('gives up after maxAttempts with reason max-attempts', async () => {
    await r.reopen({ retry: { maxAttempts: 3 } });
    r.server.script(() => ({ status: 500 }));
    await r.outbox.enqueue({ url: '/x' });
    for (let i = 0; i < 3; i++) {
      await r.outbox.flush();
      r.clock.advance(10_000);
    }
    expect(r.server.received).toHaveLength(3);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'max-attempts', status: 500, attempts: 3 }]);
    expect(await r.outbox.size()).toBe(0);
  });

  it('gives up after maxAgeMs with reason max-age', async () => {
    await r.reopen({ retry: { maxAgeMs: 60_000 } });
    r.server.script(() => ({ status: 502 }));
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    r.clock.advance(61_000);
    await r.outbox.flush();
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'max-age', status: 502, attempts: 2 }]);
  });

  it('aborts a request past timeoutMs and retries it, without going offline', async () => {
    await r.reopen({ timeoutMs: 5000 });
    r.server.next({ hang: true });
    await r.outbox.enqueue({ url: '/slow' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    r.clock.advance(5000);
    expect(await flushing).toMatchObject({ retried: 1 });
    expect(r.events('retry')[0]!.error).toMatch(/5000 ms/);
    expect(r.outbox.online).toBe(true);
    r.clock.advance(500);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1 });
  });

  it('keeps attempts and the next attempt time across a restart', async () => {
    r.server.next({ status: 500 });
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    await r.reopen();
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
    expect(r.server.received).toHaveLength(1);
    r.clock.advance(500);
    await r.outbox.flush();
    expect(r.events('sent')).toMatchObject([{ attempts: 2 }]);
  });

  it('sends a task again with the same key after a crash mid-request', async () => {
    r.server.next({ hang: true });
    const id = await r.outbox.enqueue({ url: '/x' });
    const crashed = r.outbox;
    const lost = crashed.flush();
    await r.server.waitFor(1);
    // A second process on the same store, while the first is stuck (it never acks): the task is leased...
    const { FakeClock } = await import('../support/fake-clock.js');
    const later = new FakeClock(r.clock.now());
    const restarted = await r.open({}, later);
    expect(await restarted.flush()).toMatchObject({ sent: 0, remaining: 1 });
    // ...until its lease (timeout + 60 s) runs out.
    later.advance(30_000 + 60_000);
    expect(await restarted.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
    await r.server.down();
    await lost;
  });
});

describe('a storage failure while an attempt settles', () => {
  /** Reopens the outbox over a MemoryStore whose next commit to the outbox's queue fails, once armed. */
  const failOnce = async () => {
    const { store, arm } = failingCommit('api');
    await r.reopen({ store });
    return { arm };
  };

  it("a close that cannot release the leases it holds (the store refusing) says so in an 'error' event (it said nothing)", async () => {
    const failing = await failOnce();
    r.server.next({ status: 503, delayMs: 100 });
    await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    failing.arm(Infinity);
    await flushing;
    expect(r.events('error')).toHaveLength(1);
    const errors = r.events('error');
    await r.outbox.close();
    expect(errors).toHaveLength(2);
    failing.arm(0);
  });

  it('a chain whose give-back of the tasks it took ahead is refused gives them back again in the background: they go on, charged no attempt', async () => {
    const { store, arm } = failingCommit('api');
    await r.reopen({ store, ordering: 'fifo', concurrency: 1 });
    const ids = ['t0', 't1', 't2', 't3'];
    r.server.plan('t0', [{ status: 503 }]);
    // The head's 503 is recorded (a release with its delay); the next commit, the chain giving back the rest, fails.
    r.server.onHeaders = (req) => void (req.headers['idempotency-key'] === 't0' && r.server.received.length === 0 && arm(1, 1));
    await r.outbox.enqueueMany(ids.map((id) => ({ url: '/x', id })));
    await r.outbox.flush();
    expect(r.events('error')).toHaveLength(1);
    // Given back half a second later; the head's delay (500 ms) over: all go, each with the requests made for it.
    await pass(r.clock, 2_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 4, remaining: 0 });
    expect(r.events('sent').map((e) => [e.task.id, e.attempts])).toEqual([['t0', 2], ['t1', 1], ['t2', 1], ['t3', 1]]);
  });

  it("says so in an 'error' event, records the retry's delay again in the background, and the task goes after that delay, not its lease (timeoutMs + 60 s)", async () => {
    const failing = await failOnce();
    r.server.next({ status: 503, delayMs: 100 });
    const id = await r.outbox.enqueue({ url: '/x', group: 'g' });
    await r.outbox.enqueue({ url: '/y', group: 'g' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    // The 503's retry (a release of the lease) is the commit that fails.
    failing.arm();
    await flushing;
    expect(r.events('error')).toHaveLength(1);
    expect(r.events('retry')).toEqual([]);
    // Recorded again half a second later: told 'retry' then; sent once its delay (500 ms) is over.
    await pass(r.clock, 2_000);
    expect(r.events('retry')).toMatchObject([{ delayMs: 500, status: 503 }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 2, remaining: 0 });
    expect(r.server.delivered.map((x) => x.key)[0]).toBe(id);
  });

  it('a take that fails in background delivery: the loop looks again by itself, with nothing to kick it', async () => {
    const failing = await failOnce();
    await r.outbox.enqueue({ url: '/x' });
    failing.arm();
    r.outbox.start();
    await vi.waitFor(() => expect(r.events('error')).toHaveLength(1));
    expect(r.server.received).toEqual([]);
    r.clock.advance(1000);
    await vi.waitFor(() => expect(r.events('sent')).toHaveLength(1));
    expect(await r.outbox.size()).toBe(0);
  });

  it("an ack that keeps failing leaves the task unsent in the flush's count and events; it is sent again, same key", async () => {
    const { store, arm } = failingCommit('api');
    await r.reopen({ store });
    r.server.next({ status: 200, delayMs: 100 });
    const id = await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    // The response's ack is the commit that fails, and so does every one made again until the lease ends.
    arm(Infinity);
    expect(await flushing).toMatchObject({ sent: 0 });
    expect(r.events('sent')).toEqual([]);
    expect(r.events('error')).toHaveLength(1);
    for (let waited = 0; waited < 10 * 60_000; waited += 1000) {
      r.clock.advance(1000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    arm(0);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.delivered.map((x) => x.key)).toEqual([id, id]);
  });

  it('an ack made again once its lease ended (a clock stepped) removes nothing another handle now holds: one handle says sent', async () => {
    await hearingNothing(async () => {
      const { store, arm } = failingCommit('api');
      const a = await r.reopen({ store });
      r.server.next({ status: 200, delayMs: 100 });
      await a.enqueue({ url: '/x', id: 't1' });
      const flushing = a.flush();
      await r.server.waitFor(1);
      arm();
      expect(await flushing).toMatchObject({ sent: 0 });
      // The lease (90 s) is over before the ack is made again; another handle takes the task, its request out.
      r.clock.step(120_000);
      const b = await Outbox.open({ name: 'api', store, clock: r.clock, random: () => 0.5, baseUrl: r.server.url });
      const sentByB: string[] = [];
      b.addEventListener('sent', (e) => sentByB.push(e.detail.task.id));
      r.server.next({ status: 200, delayMs: 100 });
      const second = b.flush();
      await r.server.waitFor(2);
      r.clock.advance(500);
      expect(await second).toMatchObject({ sent: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(r.events('sent')).toEqual([]);
      expect(sentByB).toEqual(['t1']);
      await b.close();
    });
  });

  it('with onBeforeSend, a failed ack stops the chain: the next task of the group is built only once the one before is told sent', async () => {
    const { store, arm } = failingCommit('api');
    const built: string[] = [];
    await r.reopen({ store, onBeforeSend: (task) => (built.push(`${task.id}:${r.events('sent').length}`), task) });
    r.server.next({ status: 200, delayMs: 100 });
    await r.outbox.enqueueMany([{ url: '/a', id: 'a', group: 'g' }, { url: '/b', id: 'b', group: 'g' }]);
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    arm();
    await flushing;
    expect(r.server.received.map((x) => x.key)).toEqual(['a']);
    r.outbox.start();
    r.clock.advance(500);
    await vi.waitFor(() => expect(r.events('sent').map((e) => e.task.id)).toEqual(['a', 'b']));
    // b was built after a was told sent.
    expect(built).toEqual(['a:0', 'b:1']);
  });

  it("onBeforeSend may set a header in its usual case over the stored one ('Authorization' over 'authorization')", async () => {
    await r.reopen({ onBeforeSend: (task) => ({ ...task, headers: { ...task.headers, Authorization: 'Bearer new', 'Content-Type': 'application/json' } }) });
    await r.outbox.enqueue({ url: '/x', headers: { Authorization: 'Bearer old' }, body: { n: 1 } });
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
    expect(r.server.received[0]!.headers.authorization).toBe('Bearer new');
  });

  // Before, each response whose ack was in the commit that failed said the one failure again: 3 'error' events here.
  it("a failed commit of several responses' acks is one 'error' naming how many tasks it covered, its code kept; each is made again", async () => {
    const { store, arm } = failingCommit('api');
    await r.reopen({ store, ordering: 'none', concurrency: 4 });
    // The first response comes last: the acks of the others wait for it, and commit together with it.
    r.server.next({ status: 200, delayMs: 100 });
    const ids = await r.outbox.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ url: `/${i}` })));
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    arm();
    const { sent } = await flushing;
    const held = ids.length - sent;
    expect(held).toBeGreaterThan(1);
    const errors = r.events('error');
    expect(errors).toHaveLength(1);
    const { error } = errors[0]!;
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'ERR_STORAGE', message: expect.stringContaining(`the ack of ${held} delivered tasks`), cause: { code: 'ERR_STORAGE' } });
    // Each held task's ack is made again as before, half a second later: told sent, none sent twice.
    r.clock.advance(500);
    await vi.waitFor(() => expect(r.events('sent')).toHaveLength(ids.length));
    expect(new Set(r.server.delivered.map((x) => x.key))).toEqual(new Set(ids));
    expect(r.server.delivered).toHaveLength(ids.length);
    expect(r.events('error')).toHaveLength(1);
    expect(await r.outbox.size()).toBe(0);
  });

  it('an ack that fails for a moment is made again: the task is told sent, not sent twice, and its group goes on', async () => {
    const failing = await failOnce();
    r.server.next({ status: 200, delayMs: 100 });
    const first = await r.outbox.enqueue({ url: '/x', group: 'g' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    failing.arm();
    expect(await flushing).toMatchObject({ sent: 0 });
    const second = await r.outbox.enqueue({ url: '/y', group: 'g' });
    r.outbox.start();
    // Half a second later (not at the lease's end, 90 s on): acked, told, and the group's next task goes.
    r.clock.advance(500);
    await vi.waitFor(() => expect(r.events('sent').map((e) => e.task.id)).toEqual([first, second]));
    expect(r.server.delivered.map((x) => x.key)).toEqual([first, second]);
    expect(await r.outbox.size()).toBe(0);
  });
});
