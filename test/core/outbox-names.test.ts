import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { OUTBOX_QUEUE } from '../../src/core/options.js';
import { Queue } from '../../src/core/queue.js';
import type { Store } from '../../src/core/store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

/** A MemoryStore that records the names `exists` is asked about, and `open` opens. */
function watched(): { store: MemoryStore; asked: string[]; opened: string[] } {
  const store = new MemoryStore();
  const asked: string[] = [];
  const opened: string[] = [];
  const exists = store.exists.bind(store);
  const open = store.open.bind(store);
  store.exists = (name) => (asked.push(name), exists(name));
  store.open = (name) => (opened.push(name), open(name));
  return { store, asked, opened };
}

async function rejection(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
}

describe("Queue.open on an outbox's queue (the store says <name>.dead exists)", () => {
  it("is refused with ERR_INCOMPATIBLE_STORE before anything is opened, whatever the partition count", async () => {
    const { store, asked, opened } = watched();
    await (await store.open('x.dead')).close();
    opened.length = 0;
    for (const partitions of [1, 4]) {
      const error = await rejection(Queue.open({ name: 'x', store, partitions }));
      expect(error.code).toBe('ERR_INCOMPATIBLE_STORE');
      expect(error.message).toBe(
        `Queue "x" is an outbox's queue (its tasks; its dead letters are in "x.dead"): its items are HTTP tasks the outbox delivers, and a Queue's acks would remove them unsent. Open it as \`Outbox.open({ name: 'x' })\`, or give the Queue another name (and a queue of dead letters of your own a name other than "<name>.dead", the outbox's layout, which the CLI takes for an outbox).`,
      );
    }
    expect(asked).toEqual(['x.dead', 'x.dead']);
    expect(opened).toEqual([]);
    expect(store.names().sort()).toEqual(['x.dead']);
  });

  it('a bad name is ERR_INVALID_NAME first, the store never asked', async () => {
    const { store, asked } = watched();
    await (await store.open('x.dead')).close();
    for (const name of ['../x', 'x.p1', 'x.pm', '', 'x'.repeat(129)]) expect((await rejection(Queue.open({ name, store }))).code).toBe('ERR_INVALID_NAME');
    expect(asked).toEqual([]);
    // A good name is asked about.
    expect((await rejection(Queue.open({ name: 'x', store }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    expect(asked).toEqual(['x.dead']);
  });

  it("a name whose <name>.dead does not exist opens, as does one too long to have it (the store is not asked about that)", async () => {
    const { store, asked } = watched();
    await (await store.open('y.dead')).close();
    expect((await rejection(Queue.open({ name: 'y', store }))).code).toBe('ERR_INCOMPATIBLE_STORE');
    await (await Queue.open({ name: 'x', store })).close();
    const long = 'z'.repeat(124);
    await (await Queue.open({ name: long, store })).close();
    expect(asked.filter((name) => name.endsWith('.dead'))).toEqual(['y.dead', 'x.dead']);
  });

  it("an outbox's own opens (OUTBOX_QUEUE) are not refused", async () => {
    const { store } = watched();
    await (await store.open('x.dead')).close();
    const queue = await Queue.open<number>({ name: 'x', store, ...{ [OUTBOX_QUEUE]: true } });
    await queue.push(1);
    await queue.close();
    expect((await rejection(Queue.open({ name: 'x', store }))).code).toBe('ERR_INCOMPATIBLE_STORE');
  });

  it("a store whose exists fails fails the open with ERR_STORAGE naming it, nothing opened", async () => {
    const { store, opened } = watched();
    store.exists = () => Promise.reject(new Error('the disk is gone'));
    const error = await rejection(Queue.open({ name: 'x', store }));
    expect(error.code).toBe('ERR_STORAGE');
    expect(error.message).toContain('x.dead');
    expect(opened).toEqual([]);
  });

  it('a store without exists is not asked: the Queue opens', async () => {
    const base = new MemoryStore();
    await (await base.open('x.dead')).close();
    const store: Store = { open: (name) => base.open(name) };
    await (await Queue.open({ name: 'x', store })).close();
    // The same queues, on the store that can tell.
    expect((await rejection(Queue.open({ name: 'x', store: base }))).code).toBe('ERR_INCOMPATIBLE_STORE');
  });
});

describe("Queue.open on an outbox's dead letters (<b>.dead where the store has <b>)", () => {
  it('is refused with ERR_INCOMPATIBLE_STORE before anything is opened; asked after <name>.dead', async () => {
    const { store, asked, opened } = watched();
    await (await store.open('x.dead')).close();
    await (await store.open('x')).close();
    opened.length = 0;
    const error = await rejection(Queue.open({ name: 'x.dead', store }));
    expect(error.code).toBe('ERR_INCOMPATIBLE_STORE');
    expect(error.message).toBe(
      'Queue "x.dead" is the name under which an outbox "x" keeps its dead letters, and "x" exists: were it an outbox, a Queue\'s acks would delete its dead letters (read them with `outbox.dead.list()`, `retry` and `purge`, or `npx sluice dead x`); were it a Queue, this one would make it look like an outbox\'s queue. Give the Queue a name other than "<name>.dead", the outbox\'s layout.',
    );
    expect(asked).toEqual(['x.dead.dead', 'x']);
    expect(opened).toEqual([]);
  });

  it('opens where <b> does not exist, for the outbox\'s own opens, and for a name whose <b> is no name (".", "..")', async () => {
    const { store, asked } = watched();
    await (await Queue.open({ name: 'y.dead', store })).close();
    await (await store.open('x')).close();
    await (await Queue.open<number>({ name: 'x.dead', store, ...{ [OUTBOX_QUEUE]: true } })).close();
    asked.length = 0;
    await (await Queue.open({ name: '..dead', store })).close();
    await (await Queue.open({ name: '...dead', store })).close();
    // Asked about their own `.dead` (and, as every open, their partitions), never about "." or "..".
    expect(asked).toEqual(expect.arrayContaining(['..dead.dead', '...dead.dead']));
    expect(asked.filter((name) => name === '.' || name === '..')).toEqual([]);
  });
});
