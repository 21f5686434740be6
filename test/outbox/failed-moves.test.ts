import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from '../../src/index.node.js';
import { Queue } from '../../src/core/queue.js';
import type { Store } from '../../src/core/store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { FaultyStore } from '../support/faulty-store.js';
import { FaultServer } from './fault-server.js';
import { failingCommit, hearingNothing, rig, type Rig } from './helpers.js';

let r: Rig;
beforeEach(async () => {
  r = await rig();
});
afterEach(() => r.teardown());

/** Another handle of the rig's outbox on `store`, as a second tab or process opens it: on the rig's clock and server. */
const another = (store: Store) => Outbox.open({ name: 'api', store, clock: r.clock, random: () => 0.5, baseUrl: r.server.url });

/** A MemoryStore whose `nth` commit to the queue `name` after `arm(nth)` fails (1: the next), once. */
function failingNth(name: string): { store: MemoryStore; arm: (nth: number) => void } {
  let left = 0;
  const store = new MemoryStore();
  const open = store.open.bind(store);
  store.open = async (opened) => {
    const storage = await open(opened);
    const commit = storage.commit.bind(storage);
    if (opened === name) storage.commit = (token, batch) => (left > 0 && --left === 0 ? Promise.reject(new Error('the disk is gone')) : commit(token, batch));
    return storage;
  };
  return { store, arm: (nth) => (left = nth) };
}

/** The outbox reopened over a store that fails when told, holding one task that the server will refuse (a 400). */
async function refusedTask(): Promise<{ store: FaultyStore; id: string; inner: MemoryStore }> {
  const inner = new MemoryStore();
  const store = new FaultyStore(inner);
  await r.reopen({ store });
  r.server.next({ status: 400 });
  return { store, id: await r.outbox.enqueue({ url: '/x' }), inner };
}

/**
 * A task refused (a 400) whose letter was stored by a commit that then failed, the letters unreadable to tell: held
 * until its lease ends. Resolves its id.
 */
async function burialUntold(store: FaultyStore): Promise<string> {
  r.server.next({ status: 400 });
  const id = await r.outbox.enqueue({ url: '/x' });
  store.fail('commit', { storage: 'api.dead', landed: true });
  store.fail('read', { storage: 'api.dead' });
  expect(await r.outbox.flush()).toMatchObject({ dead: 0, remaining: 1 });
  return id;
}

/**
 * `burialUntold`, the letters unreadable again as its lease ended and this handle took it back: given back for a
 * retry delay, its letter standing.
 */
async function buriedUnlooked(store: FaultyStore): Promise<string> {
  const id = await burialUntold(store);
  r.clock.advance(91_000);
  store.fail('read', { storage: 'api.dead' });
  expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
  expect(r.events('error')).toHaveLength(2);
  expect(await r.outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'status' }]);
  r.clock.advance(1_000);
  return id;
}

/**
 * A task refused (a 400) and retried from its letter, the retry's commit storing it and then failing, with the outbox
 * unreadable to tell: the retry rejects, and the letter stands beside the task stored.
 */
async function retryStoredUntold({ store, id }: { store: FaultyStore; id: string }): Promise<{ store: FaultyStore; id: string }> {
  await r.outbox.flush();
  store.fail('commit', { storage: 'api', landed: true });
  store.fail('read', { storage: 'api' });
  await expect(r.outbox.dead.retry()).rejects.toThrow(/commit failed/);
  expect(await r.outbox.dead.list()).toMatchObject([{ task: { id } }]);
  return { store, id };
}

/** `other` takes the task `id` left by `buriedUnlooked`: it finds the letter and finishes the move, sending nothing. */
async function expectLookedFor(other: Outbox, id: string): Promise<void> {
  expect(await other.flush()).toMatchObject({ sent: 0, remaining: 0 });
  await other.close();
  expect(r.server.received.map((x) => x.path)).toEqual(['/x']);
  expect(await r.outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'status' }]);
  expect(await r.outbox.size()).toBe(0);
}

// The lease an outbox takes is timeoutMs + 60 s (90 s by default): what a failed burial held its tasks for.
describe('a move to dead whose dead letter cannot be written', () => {
  it("in delivery: an 'error' event, and the task is given back at once, tried again after a retry delay, not the lease's 90 s", async () => {
    const { store, arm } = failingCommit('api.dead');
    await r.reopen({ store });
    r.server.next({ status: 400 }, { status: 400 });
    const id = await r.outbox.enqueue({ url: '/x', group: 'g' });
    await r.outbox.enqueue({ url: '/y', group: 'g' });
    arm();
    expect(await r.outbox.flush()).toMatchObject({ dead: 0, remaining: 2 });
    expect(r.events('error')).toMatchObject([{ error: { message: expect.stringMatching(/disk is gone/) } }]);
    expect(await r.outbox.dead.size()).toBe(0);
    // Waiting out a retry delay (at most `retry.initialDelayMs`), not held as in flight; its group behind it.
    expect(await r.outbox.list()).toMatchObject([{ id, state: 'retrying', attempts: 1 }, { state: 'ready' }]);
    r.clock.advance(1_000);
    expect(await r.outbox.flush()).toMatchObject({ dead: 1, sent: 1, remaining: 0 });
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'status', status: 400, attempts: 2 }]);
    expect(r.server.received.map((x) => x.path)).toEqual(['/x', '/x', '/y']);
  });

  it('whose commit stored the letter and then failed (the reply lost): the letter is found, and the move goes on', async () => {
    const { store, id } = await refusedTask();
    store.fail('commit', { storage: 'api.dead', landed: true });
    expect(await r.outbox.flush()).toMatchObject({ dead: 1, remaining: 0 });
    expect(r.events('error')).toEqual([]);
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'status' }]);
    expect(r.events('dead')).toMatchObject([{ task: { id }, reason: 'status' }]);
    r.clock.advance(1_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 0 });
    expect(r.server.received.map((x) => x.path)).toEqual(['/x']);
  });

  it('…and where the letters cannot be read to tell: the task is held until its lease ends, then taken back, its letter found and the move finished', () =>
    hearingNothing(async () => {
    const store = new FaultyStore(new MemoryStore());
    await r.reopen({ store });
    // Another handle, which did not see the burial fail, does not send it either.
    const other = await another(store);
    const id = await burialUntold(store);
    expect(r.events('error')).toHaveLength(1);
    // Written all the same: the task is dead, though the move said it failed.
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'status' }]);
    expect(await other.flush()).toMatchObject({ sent: 0, remaining: 1 });
    // The lease (timeoutMs + 60 s) ends: the other handle takes it back, finds the letter, and finishes the move.
    r.clock.advance(91_000);
    const said: unknown[] = [];
    other.addEventListener('dead', (e) => said.push(e.detail));
    expect(await other.flush()).toMatchObject({ sent: 0, remaining: 0 });
    expect(said).toMatchObject([{ task: { id }, reason: 'status' }]);
    await other.close();
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 0 });
    expect(r.server.received.map((x) => x.path)).toEqual(['/x']);
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id } }]);
  }));

  it('…and where they cannot be read as it is taken back either: given back, and another handle that takes it then finds the letter and sends nothing', () =>
    hearingNothing(async () => {
      const store = new FaultyStore(new MemoryStore());
      await r.reopen({ store });
      const other = await another(store);
      // The other handle saw neither the lease nor the failures: it looks at its take all the same.
      await expectLookedFor(other, await buriedUnlooked(store));
    }));

  it('…and by a handle that reads the task in only after it was tried (told of no commits till then): it looks too', () =>
    hearingNothing(async () => {
      const inner = new MemoryStore();
      const store = new FaultyStore(inner);
      await r.reopen({ store });
      const other = await another(new FaultyStore(inner, { unwatched: true }));
      await expectLookedFor(other, await buriedUnlooked(store));
    }));

  it('…and where the handle that buried it tries to take it back while another holds it, then takes it: it still looks', () =>
    hearingNothing(async () => {
      const store = new FaultyStore(new MemoryStore());
      await r.reopen({ store });
      const other = await another(store);
      const id = await burialUntold(store);
      // The lease ends: the other handle takes it, cannot look for its letter either, and gives it back for a delay.
      r.clock.advance(91_000);
      store.fail('read', { storage: 'api.dead' });
      const told: unknown[] = [];
      other.addEventListener('error', (e) => told.push(e.detail.error));
      expect(await other.flush()).toMatchObject({ sent: 0, remaining: 1 });
      expect(told).toMatchObject([{ message: expect.stringMatching(/read failed/) }]);
      // This handle's take finds it held back: not taken, and not forgotten as one to look at.
      expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
      r.clock.advance(1_000);
      expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 0 });
      await other.close();
      expect(r.server.received.map((x) => x.path)).toEqual(['/x']);
      expect(await r.outbox.dead.list()).toMatchObject([{ task: { id }, reason: 'status' }]);
    }));

  it('…and in the background, its lease ending between a take that passed it over and the look that followed: taken again, not left ready with nothing to wake delivery', async () => {
    const store = new FaultyStore(new MemoryStore());
    await r.reopen({ store });
    // A 302 without Location: a final response, dead as 'status'.
    r.server.next({ status: 302 });
    const id = await r.outbox.enqueue({ url: '/x' });
    // The letter not written, and the letters unreadable to tell: held until its lease ends (timeoutMs + 60 s).
    store.fail('commit', { storage: 'api.dead' });
    store.fail('load', { storage: 'api.dead' });
    r.outbox.start();
    const turns = async (done: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 400 && !(await done()); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await turns(() => r.events('error').length > 0);
    expect(await r.outbox.list()).toMatchObject([{ id, state: 'sending', attempts: 1 }]);
    // The next take (the index looks again within 5 s) passes it over, leased; the clock runs on past the lease's end
    // before the look that tells the index where it is, which finds it free.
    const take = Queue.prototype.take;
    let passed = false;
    const spy = vi.spyOn(Queue.prototype, 'take').mockImplementation(async function (this: Queue<unknown>, ...args) {
      const lease = await take.apply(this, args);
      if (!lease && this.name === 'api' && !passed) {
        passed = true;
        r.clock.advance(90_000);
      }
      return lease;
    });
    try {
      r.clock.advance(5_000);
      await turns(() => passed);
      expect(passed).toBe(true);
      // Before the fix it stayed ready with no timer set and nothing to kick the loop: never sent again.
      await turns(async () => (r.clock.advance(1_000), r.server.received.length > 1 && (await r.outbox.size()) === 0));
    } finally {
      spy.mockRestore();
    }
    expect(r.server.received.map((x) => x.path)).toEqual(['/x', '/x']);
    expect(await r.outbox.size()).toBe(0);
    expect(await r.outbox.dead.size()).toBe(0);
    expect(r.events('error')).toHaveLength(1);
  });

  it("with no 'error' listener: the failure goes to the console (once a listener was added, only to it)", async () => {
    const { store, arm } = failingCommit('quiet.dead');
    const quiet = await Outbox.open({ name: 'quiet', store, clock: r.clock, random: () => 0.5, baseUrl: r.server.url });
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      r.server.next({ status: 400 }, { status: 400 });
      await quiet.enqueue({ url: '/x' });
      arm();
      expect(await quiet.flush()).toMatchObject({ dead: 0, remaining: 1 });
      expect(logged.mock.calls).toEqual([[expect.stringMatching(/sluice: .*no listener/), expect.objectContaining({ code: 'ERR_STORAGE', message: expect.stringMatching(/disk is gone/) })]]);
      const heard: unknown[] = [];
      quiet.addEventListener('error', (e) => heard.push(e.detail.error));
      r.clock.advance(1_000);
      await quiet.enqueue({ url: '/y' });
      arm();
      await quiet.flush();
      expect(heard).toMatchObject([{ code: 'ERR_STORAGE' }]);
      expect(logged).toHaveBeenCalledTimes(1);
    } finally {
      logged.mockRestore();
      await quiet.close();
    }
  });

  it('in delivery, a task that expired in a chain taken ahead: given back untried (no request was made), its group not held', async () => {
    const { store, arm } = failingCommit('api.dead');
    await r.reopen({ store });
    await r.outbox.enqueue({ url: '/first', group: 'g' });
    await r.outbox.enqueue({ url: '/old', group: 'g', expiresAt: r.clock.now() + 1_000 });
    await r.outbox.enqueue({ url: '/y', group: 'g' });
    // Taken in one chain with the first, it expires while the first is out: its burial, before its request, fails.
    r.server.onHeaders = async (req) => {
      if (req.url !== '/first') return;
      r.clock.advance(1_000);
      arm();
    };
    // The chain goes on behind it: an expired task only waits to be buried, and is, by the next pass.
    expect(await r.outbox.flush()).toMatchObject({ dead: 1, sent: 2, remaining: 0 });
    expect(r.events('error')).toHaveLength(1);
    expect(r.server.received.map((x) => x.path)).toEqual(['/first', '/y']);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'expired', attempts: 0 }]);
  });

  it('as an enqueue replaces a task: the older one stays pending and free at once (it was held for 90 s, and its group with it), and is replaced when its turn comes', async () => {
    const { store, arm } = failingCommit('api.dead');
    await r.reopen({ store });
    await r.outbox.enqueue({ url: '/old', key: 'k' });
    arm();
    await r.outbox.enqueue({ url: '/new', key: 'k' });
    expect(r.events('error')).toHaveLength(1);
    expect(await r.outbox.list()).toMatchObject([{ url: expect.stringMatching(/\/old$/), state: 'ready', attempts: 0 }, { state: 'ready' }]);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, dead: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.path)).toEqual(['/new']);
    expect(await r.outbox.dead.list()).toMatchObject([{ reason: 'superseded', task: { url: expect.stringMatching(/\/old$/) } }]);
  });

  it('as an enqueue evicts a task waiting for its retry: given back with the delay it had', async () => {
    const { store, arm } = failingCommit('api.dead');
    await r.reopen({ store, limits: { maxTasks: 1, overflow: 'drop-oldest' }, ordering: 'none' });
    r.server.next({ status: 503, headers: { 'retry-after': '600' } });
    await r.outbox.enqueue({ url: '/old' });
    expect(await r.outbox.flush()).toMatchObject({ retried: 1 });
    arm();
    // At another host: the Retry-After holds its own host's tasks.
    const other = await FaultServer.start();
    await r.outbox.enqueue({ url: `${other.url}/new` });
    expect(r.events('error')).toHaveLength(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 1 });
    await other.close();
    // Another handle (or a restart) keeps to the stored delay too.
    await r.reopen({ store, ordering: 'none' });
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 1 });
    r.clock.advance(600_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
  });
});

describe('a move to dead cut short in a long-lived handle (no open to reconcile it)', () => {
  it('the letter written, the removal from the outbox failed: the letter is deleted again, the task retried; never both', async () => {
    const { store, arm } = failingNth('api');
    await r.reopen({ store });
    r.server.next({ status: 400, delayMs: 50 });
    await r.outbox.enqueue({ url: '/x' });
    const flushing = r.outbox.flush();
    await r.server.waitFor(1);
    // The take has committed; the next commit to the outbox's queue is the burial's removal.
    arm(1);
    expect(await flushing).toMatchObject({ dead: 0, remaining: 1 });
    expect(r.events('error')).toHaveLength(1);
    expect(r.events('dead')).toEqual([]);
    expect(await r.outbox.dead.size()).toBe(0);
    // Tried again: before the fix it was sent (a 200 now) while its letter stayed, which a dead.retry() sent again.
    r.clock.advance(1_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(await r.outbox.dead.size()).toBe(0);
  });

  /**
   * A handle that dies between the two steps of a burial (its letter written, the task not yet removed), beside
   * `live`, a handle over `store` opened before it died, that heard nothing of it (processes: nothing relayed).
   */
  async function diedBurying(store: MemoryStore): Promise<{ live: Outbox; id: string }> {
    // The dying handle's store: once armed, its commits to the outbox's queue never come back, as if killed.
    let dying = false;
    const doomed = {
      open: async (name: string) => {
        const storage = await store.open(name);
        const commit = storage.commit.bind(storage);
        if (name === 'api') storage.commit = (token, batch) => (dying ? new Promise(() => undefined) : commit(token, batch));
        return storage;
      },
    };
    const gone = await another(doomed);
    const live = await r.reopen({ store });
    r.server.next({ status: 400, delayMs: 50 });
    const id = await gone.enqueue({ url: '/x' });
    void gone.flush();
    // Its take has committed; of what follows, the letter is written and the task's removal never returns.
    await r.server.waitFor(1);
    dying = true;
    for (let i = 0; i < 1000 && (await live.dead.size()) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await live.dead.list()).toMatchObject([{ task: { id }, reason: 'status', status: 400 }]);
    // Still leased by the dead handle: this one leaves it.
    expect(await live.flush()).toMatchObject({ sent: 0, remaining: 1 });
    return { live, id };
  }

  it("another handle died between the two steps (its letter written, the task not yet removed): this one finishes the move, and sends nothing", () =>
    hearingNothing(async () => {
      const { live, id } = await diedBurying(new MemoryStore());
      // Its lease ends (timeoutMs + 60 s): taken back, the letter found, the move finished.
      r.clock.advance(91_000);
      expect(await live.flush()).toMatchObject({ sent: 0, remaining: 0 });
      expect(r.server.received.map((x) => x.path)).toEqual(['/x']);
      expect(await live.list()).toEqual([]);
      expect(await live.dead.list()).toMatchObject([{ task: { id } }]);
      expect(r.events('dead')).toMatchObject([{ task: { id }, reason: 'status' }]);
    }));

  it('…and where the dead letters cannot be read then, it holds the task back, says why in an error event, and finishes the move once they can be', () =>
    hearingNothing(async () => {
      const store = new MemoryStore();
      let refusing = false;
      const open = store.open.bind(store);
      store.open = async (name) => {
        const storage = await open(name);
        const load = storage.load.bind(storage);
        const token = storage.token.bind(storage);
        if (name === 'api.dead') {
          storage.load = () => (refusing ? Promise.reject(new Error('the disk is gone')) : load());
          storage.token = () => (refusing ? Promise.reject(new Error('the disk is gone')) : token());
        }
        return storage;
      };
      const { live, id } = await diedBurying(store);
      refusing = true;
      r.clock.advance(91_000);
      // Whether it is dead cannot be told: not sent while it may be.
      expect(await live.flush()).toMatchObject({ sent: 0, remaining: 1 });
      expect(r.events('error')).toMatchObject([{ error: { message: expect.stringMatching(/disk is gone/) } }]);
      expect(await live.list()).toMatchObject([{ id, state: 'retrying' }]);
      refusing = false;
      // After a retry delay (at most `retry.initialDelayMs`), looked at again: the letter found, the move finished.
      r.clock.advance(1_000);
      expect(await live.flush()).toMatchObject({ sent: 0, remaining: 0 });
      expect(r.server.received.map((x) => x.path)).toEqual(['/x']);
      expect(await live.dead.list()).toMatchObject([{ task: { id } }]);
      expect(r.events('dead')).toMatchObject([{ task: { id }, reason: 'status' }]);
    }));

  it('a dead.retry() whose task was stored though the commit failed (the reply lost): the task is found, and the retry goes on', async () => {
    const { store, id } = await refusedTask();
    await r.outbox.flush();
    store.fail('commit', { storage: 'api', landed: true });
    expect(await r.outbox.dead.retry()).toBe(1);
    expect(await r.outbox.dead.size()).toBe(0);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
  });

  it('…and where the outbox cannot be read to tell: the retry rejects, and the task it stored goes all the same, its letter deleted first', async () => {
    const { id } = await retryStoredUntold(await refusedTask());
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
    expect(await r.outbox.dead.size()).toBe(0);
  });

  it('…and another handle, which did not see the retry fail, takes the task: it deletes the letter first too (never sent and dead)', () =>
    hearingNothing(async () => {
      const refused = await refusedTask();
      // Opened before the retry (an open settles what it finds, see \`reconcile\`), on the same queues but not through
      // the faults: its own reads, as it hears the retry's commit, would take the one meant for the retry's look.
      const other = await another(new FaultyStore(refused.inner));
      const { id } = await retryStoredUntold(refused);
      expect(await other.flush()).toMatchObject({ sent: 1, remaining: 0 });
      await other.close();
      expect(await r.outbox.dead.size()).toBe(0);
      expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 0 });
      expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
    }));

  it('…and retried again: the task the failed retry stored is taken out first, and the letter put back once', async () => {
    const { id } = await retryStoredUntold(await refusedTask());
    expect(await r.outbox.dead.retry()).toBe(1);
    expect(await r.outbox.size()).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
  });

  it('…and purged: the task the failed retry stored goes with the letter, never sent', async () => {
    await retryStoredUntold(await refusedTask());
    expect(await r.outbox.dead.purge()).toBe(1);
    expect(await r.outbox.size()).toBe(0);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 0 });
    expect(r.server.received).toHaveLength(1);
  });

  it('a dead.retry() of a letter whose task is still pending (its burial cut short) puts it back once: the task left behind goes', async () => {
    const { store, id } = await refusedTask();
    // The letter is written, the burial says it failed and cannot tell: the task is both pending and dead, held until
    // its lease ends.
    store.fail('commit', { storage: 'api.dead', landed: true });
    store.fail('read', { storage: 'api.dead' });
    expect(await r.outbox.flush()).toMatchObject({ dead: 0, remaining: 1 });
    // Held: the letter stays dead, not put back beside a task in flight.
    expect(await r.outbox.dead.retry()).toBe(0);
    r.clock.advance(91_000);
    expect(await r.outbox.dead.retry()).toBe(1);
    expect(await r.outbox.size()).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
    expect(await r.outbox.dead.size()).toBe(0);
  });

  it('a dead.purge() of a letter whose task is still pending (its burial cut short, and not undone) takes the task with it: never sent after all', async () => {
    const { store, id } = await refusedTask();
    let deadCommits = 0;
    // The letter is written; the task's removal fails, and so does the letter's deletion after it.
    store.beforeCommit = (name) => {
      if (name !== 'api.dead') return;
      if (++deadCommits === 1) store.fail('commit', { storage: 'api' });
      else if (deadCommits === 2) store.fail('commit', { storage: 'api.dead' });
    };
    expect(await r.outbox.flush()).toMatchObject({ dead: 0, remaining: 1 });
    expect(await r.outbox.dead.list()).toMatchObject([{ task: { id } }]);
    // Its task held (the lease the burial left): the letter stays dead for now, not purged from under it.
    expect(await r.outbox.dead.purge()).toBe(0);
    r.clock.advance(91_000);
    expect(await r.outbox.dead.purge()).toBe(1);
    expect(await r.outbox.size()).toBe(0);
    r.clock.advance(60_000);
    expect(await r.outbox.flush()).toMatchObject({ sent: 0, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id]);
  });

  it('a dead.retry() whose letters were removed though the commit failed (the reply lost) resolves: the task is not taken out again, and lost', async () => {
    const { store, id } = await refusedTask();
    await r.outbox.flush();
    // The letter is claimed, its task put back; the letter's removal lands, and reports failure.
    let commits = 0;
    store.beforeCommit = () => void (++commits === 3 && store.fail('commit', { storage: 'api.dead', landed: true }));
    expect(await r.outbox.dead.retry()).toBe(1);
    store.beforeCommit = undefined;
    expect(await r.outbox.dead.size()).toBe(0);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
  });

  it('…and where the letters cannot be read to tell: the retry rejects, the task stays, and is sent once its letter proves gone', async () => {
    const { store, id } = await refusedTask();
    await r.outbox.flush();
    let commits = 0;
    store.beforeCommit = () => {
      if (++commits !== 3) return;
      store.fail('commit', { storage: 'api.dead', landed: true });
      for (const method of ['load', 'read', 'token'] as const) store.fail(method, { storage: 'api.dead' });
    };
    await expect(r.outbox.dead.retry()).rejects.toThrow(/commit failed/);
    store.beforeCommit = undefined;
    store.heal();
    expect(await r.outbox.dead.size()).toBe(0);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(r.server.received.map((x) => x.key)).toEqual([id, id]);
  });

  it('a dead.retry() whose letters cannot be removed rejects and changes nothing: no task both pending and dead', async () => {
    const { store, arm } = failingNth('api.dead');
    await r.reopen({ store });
    r.server.next({ status: 400 });
    await r.outbox.enqueue({ url: '/x' });
    await r.outbox.flush();
    const enqueued = r.events('enqueue').length;
    // The claim's take commits; the letters' removal fails.
    arm(2);
    await expect(r.outbox.dead.retry()).rejects.toThrow(/disk is gone/);
    expect(await r.outbox.size()).toBe(0);
    expect(await r.outbox.dead.size()).toBe(1);
    expect(r.events('enqueue').slice(enqueued)).toEqual([]);
    // The letters are free at once: a second retry puts the task back, once; it is sent once.
    expect(await r.outbox.dead.retry()).toBe(1);
    expect(await r.outbox.flush()).toMatchObject({ sent: 1, remaining: 0 });
    expect(await r.outbox.dead.retry()).toBe(0);
    expect(r.server.delivered).toHaveLength(1);
  });
});

describe('the error text a dead letter keeps', () => {
  it('is cut to 4096 characters, saying so: a message of megabytes made a letter over maxItemBytes, never written', async () => {
    const huge = 'x'.repeat(5_000_000);
    await r.reopen({
      fetch: async () => {
        throw new Error(huge);
      },
      classify: (outcome) => (outcome instanceof Error ? 'dead' : 'sent'),
    });
    await r.outbox.enqueue({ url: '/x' });
    expect(await r.outbox.flush()).toMatchObject({ dead: 1, remaining: 0 });
    expect(r.events('error')).toEqual([]);
    const [letter] = await r.outbox.dead.list();
    expect(letter!.error).toHaveLength(4096);
    expect(letter!.error).toMatch(/^x+… \[\d+ characters cut\]$/);
    expect(r.events('dead')[0]!.error).toBe(letter!.error);
  });
});

describe('a task near maxItemBytes', () => {
  it('is buried all the same: its letter (the task and 4096 characters of error text) has room in the dead letters', async () => {
    // A task of just under 1 MiB (the queue's maxItemBytes), its size in a header nobody should send.
    const pad = 'x'.repeat((1 << 20) - 600);
    await r.reopen({
      fetch: async () => {
        throw new Error('é'.repeat(5000));
      },
      classify: (outcome) => (outcome instanceof Error ? 'dead' : 'sent'),
    });
    const id = await r.outbox.enqueue({ url: '/x', headers: { 'x-pad': pad } });
    expect(await r.outbox.flush()).toMatchObject({ dead: 1, remaining: 0 });
    expect(r.events('error')).toEqual([]);
    const [letter] = await r.outbox.dead.list();
    expect(letter).toMatchObject({ task: { id, headers: { 'x-pad': pad } }, error: expect.stringMatching(/^é+… \[\d+ characters cut\]$/) });
  });
});
