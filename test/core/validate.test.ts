import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { Queue } from '../../src/core/queue.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { atLeast, check, integer, isClock, isFunction, limit, oneOf, optional, optionsObject, positive, withMethods } from '../../src/core/validate.js';

const messageOf = (fn: () => void): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('ERR_INVALID_OPTION');
    return (error as SluiceError).message;
  }
  throw new Error('expected ERR_INVALID_OPTION');
};

describe('Queue.open() options', () => {
  it('a store class given where an instance goes is told to pass an instance', async () => {
    const refused = Queue.open({ name: 'q', store: MemoryStore as unknown as MemoryStore });
    await expect(refused).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: 'Expected `store` to be a Store instance with open, such as new MemoryStore(), got a function.' });
  });

  it('null is no option\'s value: refused, not taken for the default (store: null would store in ./.sluice in Node)', async () => {
    const store = new MemoryStore();
    for (const key of ['store', 'codec', 'segmentItems', 'leaseMs', 'durability', 'corruption', 'pollMs', 'clock', 'partitions']) {
      await expect(Queue.open({ name: 'q', store, [key]: null }), key).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(new RegExp(`^Expected \`${key}\` to be .*, got null\\.$`)) });
    }
    // A value that is no store is named as given, not as "undefined".
    await expect(Queue.open({ name: 'q', store: Number.NaN as never })).rejects.toMatchObject({ message: expect.stringContaining('got NaN') });
  });

  it('pollMs is a duration like the others: from 1 ms to a hundred years', async () => {
    for (const pollMs of [0.5, 1e300, Infinity]) {
      await expect(Queue.open({ name: 'q', store: new MemoryStore(), pollMs })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`pollMs`') });
    }
    await (await Queue.open({ name: 'q', store: new MemoryStore(), pollMs: 1 })).close();
  });

  it('a lease or a release delay longer than a hundred years is refused: it would never end', async () => {
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore() });
    await expect(Queue.open({ name: 'q', store: new MemoryStore(), leaseMs: 1e300 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('a hundred years') });
    await q.push(1);
    await expect(q.take(1, { leaseMs: 1e300 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    const lease = (await q.take(1))!;
    await expect(lease.release(undefined, { delayMs: 1e300 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`delayMs`') });
    await lease.release(undefined, { delayMs: 100 * 365 * 24 * 3600_000 });
    expect(await q.list()).toMatchObject([{ state: 'delayed' }]);
    await q.close();
  });
});

describe('check()', () => {
  it('names the option, what it should be and what it got, in one style', () => {
    expect(messageOf(() => check({ leaseMs: -1 }, { leaseMs: positive }))).toBe('Expected `leaseMs` to be a finite number > 0, got -1.');
    expect(messageOf(() => check({ n: 1.5 }, { n: integer(1, 10) }))).toBe('Expected `n` to be an integer from 1 to 10, got 1.5.');
    expect(messageOf(() => check({ n: 0 }, { n: integer(1) }))).toBe('Expected `n` to be an integer >= 1, got 0.');
    expect(messageOf(() => check({ mode: 'x' }, { mode: oneOf('a', 'b') }))).toBe("Expected `mode` to be one of 'a', 'b', got \"x\".");
    expect(messageOf(() => check({ factor: 0.5 }, { factor: atLeast(1) }, 'retry.'))).toBe('Expected `retry.factor` to be a number >= 1, got 0.5.');
    expect(messageOf(() => check({ clock: {} }, { clock: withMethods('now', 'setTimeout') }))).toBe('Expected `clock` to be an object with now, setTimeout, got an object.');
  });

  it('isClock: a monotonic reading is optional, but a function when there is one', () => {
    const timers = { setTimeout: () => 0, clearTimeout: () => undefined };
    check({ clock: { now: () => 0, ...timers } }, { clock: isClock });
    check({ clock: { now: () => 0, monotonic: () => 0, ...timers } }, { clock: isClock });
    expect(messageOf(() => check({ clock: { now: () => 0, monotonic: 5, ...timers } }, { clock: isClock }))).toContain('monotonic');
    // Leases would end at NaN: never.
    expect(messageOf(() => check({ clock: { now: () => Number.NaN, ...timers } }, { clock: isClock }))).toContain('finite');
    expect(messageOf(() => check({ clock: { now: () => { throw new Error('unset'); }, ...timers } }, { clock: isClock }))).toContain('finite');
  });

  it('lets optional values be absent, and only them', () => {
    check({}, { fetch: optional(isFunction), max: optional(limit(1)) });
    check({ max: Infinity }, { max: optional(limit(1)) });
    expect(messageOf(() => check({ fetch: 'x' }, { fetch: optional(isFunction) }))).toContain('`fetch`');
  });

  it('optionsObject() takes an object or nothing, and rejects null and the rest', () => {
    expect(optionsObject(undefined)).toEqual({});
    expect(optionsObject({ a: 1 })).toEqual({ a: 1 });
    expect(messageOf(() => optionsObject(null as unknown as object))).toBe('Expected `options` to be a plain object, got null.');
    expect(messageOf(() => optionsObject(5 as unknown as object, 'retry'))).toBe('Expected `retry` to be a plain object, got 5.');
    expect(messageOf(() => optionsObject([]))).toBe('Expected `options` to be a plain object, got an array.');
    // Their methods would be read as options (a typed array's filter as take's); a class's instance is no options.
    expect(messageOf(() => optionsObject(new Uint8Array(2)))).toBe('Expected `options` to be a plain object, got a Uint8Array.');
    expect(messageOf(() => optionsObject(new Map()))).toBe('Expected `options` to be a plain object, got a Map.');
    expect(messageOf(() => optionsObject([].values()))).toBe('Expected `options` to be a plain object, got an object.');
    expect(optionsObject(Object.create(null))).toEqual({});
  });

  it("an array given as take's options is refused, not read: its filter method is no filter", async () => {
    const q = await Queue.open<number>({ name: 'q', store: new MemoryStore() });
    await q.pushMany([1, 2]);
    await expect(q.take(1, [] as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: 'Expected `options` to be a plain object, got an array.' });
    expect(await q.size()).toBe(2);
    await q.close();
  });
});
