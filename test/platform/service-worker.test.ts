import { describe, expect, it } from 'vitest';
import { backgroundSync } from '../../src/sw.js';
import { SluiceError } from '../../src/index.js';

/** An outbox double: counts flushes and answers with a scripted result. */
class FakeOutbox extends EventTarget {
  flushes = 0;
  remaining = 0;
  waiting = 0;
  async flush() {
    this.flushes++;
    return { sent: 1, retried: this.remaining, dead: 0, remaining: this.remaining };
  }
  async size() {
    return this.waiting;
  }
}

class Extendable extends Event {
  promises: Promise<unknown>[] = [];
  constructor(type: string, readonly extra: Record<string, unknown> = {}) {
    super(type);
    Object.assign(this, extra);
  }
  waitUntil(promise: Promise<unknown>) {
    this.promises.push(promise);
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('backgroundSync()', () => {
  it('with Background Sync: registers the tag after each enqueue and on start-up when tasks wait', async () => {
    const registered: string[] = [];
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async (tag: string) => void registered.push(tag) } } });
    const outbox = new FakeOutbox();
    outbox.waiting = 2;
    backgroundSync(outbox, { tag: 'api', scope });
    await tick();
    expect(registered).toEqual(['api']);
    outbox.dispatchEvent(new Event('enqueue'));
    await tick();
    expect(registered).toEqual(['api', 'api']);
  });

  it('a sync event with the tag flushes inside waitUntil, rejecting while tasks remain', async () => {
    const scope = Object.assign(new EventTarget(), { registration: { sync: { register: async () => undefined } } });
    const outbox = new FakeOutbox();
    backgroundSync(outbox, { tag: 'api', scope });
    const other = new Extendable('sync', { tag: 'other' });
    scope.dispatchEvent(other);
    expect(other.promises).toHaveLength(0);

    const done = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(done);
    await expect(done.promises[0]).resolves.toBeUndefined();

    outbox.remaining = 3;
    const retry = new Extendable('sync', { tag: 'api' });
    scope.dispatchEvent(retry);
    await expect(retry.promises[0]).rejects.toBeInstanceOf(SluiceError);
    expect(outbox.flushes).toBe(2);
  });

  it('without Background Sync: flushes on start-up, on online, and on a sluice:flush message', async () => {
    const scope = new EventTarget();
    const outbox = new FakeOutbox();
    const stop = backgroundSync(outbox, { scope });
    await tick();
    expect(outbox.flushes).toBe(1);
    scope.dispatchEvent(new Event('online'));
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    scope.dispatchEvent(new Extendable('message', { data: { type: 'something else' } }));
    await Promise.all(message.promises);
    expect(outbox.flushes).toBe(3);
    stop();
    scope.dispatchEvent(new Event('online'));
    expect(outbox.flushes).toBe(3);
  });

  it('rejects a bad tag with ERR_INVALID_OPTION', () => {
    expect(() => backgroundSync(new FakeOutbox(), { tag: '', scope: new EventTarget() })).toThrow(/tag/);
  });
});

describe('backgroundSync(outboxPromise)', () => {
  it('adds its listeners at once, before the outbox has opened, and uses the outbox once it has', async () => {
    const scope = new EventTarget();
    let resolve!: (o: FakeOutbox) => void;
    const outbox = new FakeOutbox();
    backgroundSync(new Promise<FakeOutbox>((r) => (resolve = r)), { scope });
    // The message arrives while the outbox is still opening: it is answered once it has opened.
    const message = new Extendable('message', { data: { type: 'sluice:flush' } });
    scope.dispatchEvent(message);
    expect(message.promises).toHaveLength(1);
    resolve(outbox);
    await Promise.all(message.promises);
    await tick();
    expect(outbox.flushes).toBe(2); // start-up and the message
  });
});
