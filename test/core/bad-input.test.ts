import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, Queue, type Lease } from '../../src/index.js';
import { junk as anyJunk, opensOrRefuses, outcome, RUNS, typed as isSluiceError } from '../support/bad-input.js';
import { FakeClock } from '../support/fake-clock.js';

// Values a caller may pass by mistake: near misses of ids, counts and keys among them.
const junk = anyJunk('1', '-1', '01', ' 1', [''], ['x'], [1], [-1]);
const options = fc.oneof(
  junk,
  fc.dictionary(fc.constantFrom('key', 'leaseMs', 'signal', 'filter', 'ids', 'early', 'limit', 'after', 'partition', 'leased', 'delayMs', 'untried', 'max', 'lease'), junk),
);

type Call = (q: Queue<unknown>, lease: Lease<unknown> | undefined) => unknown;
const call: fc.Arbitrary<[string, Call]> = fc.oneof(
  fc.tuple(junk, options).map(([item, o]): [string, Call] => ['push', (q) => q.push(item, o as never)]),
  fc.tuple(junk, options).map(([items, o]): [string, Call] => ['pushMany', (q) => q.pushMany(items as never, o as never)]),
  fc.tuple(junk, options).map(([max, o]): [string, Call] => ['take', (q) => q.take(max as never, o as never)]),
  junk.map((max): [string, Call] => ['peek', (q) => q.peek(max as never)]),
  options.map((o): [string, Call] => ['list', (q) => q.list(o as never)]),
  fc.tuple(junk, options).map(([ids, o]): [string, Call] => ['remove', (q) => q.remove(ids as never, o as never)]),
  options.map((o): [string, Call] => ['iterate', (q) => q.iterate({ ...(typeof o === 'object' && o), signal: AbortSignal.abort() } as never)]),
  junk.map((ids): [string, Call] => ['ack', (_, lease) => lease?.ack(ids as never)]),
  fc.tuple(junk, options).map(([ids, o]): [string, Call] => ['release', (_, lease) => lease?.release(ids as never, o as never)]),
  junk.map((leaseMs): [string, Call] => ['extend', (_, lease) => lease?.extend(leaseMs as never)]),
  fc.tuple(junk, junk, junk).map(([a, b, c]): [string, Call] => ['blobs.write', (q) => q.blobs!.write(a as never, b as never, c as never)]),
  fc.tuple(junk, junk, junk).map(([a, b, c]): [string, Call] => ['blobs.read', (q) => q.blobs!.read(a as never, b as never, c as never)]),
  junk.map((keys): [string, Call] => ['blobs.delete', (q) => q.blobs!.delete(keys as never)]),
);

describe('bad input', () => {
  it('every call given anything rejects with a SluiceError (or works), and the queue goes on working', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { maxLength: 12 }), async (calls) => {
        const q = await Queue.open<unknown>({ name: 'q', store: new MemoryStore(), clock: new FakeClock() });
        try {
          await q.pushMany([1, 2, 3]);
          const lease = await q.take(2);
          for (const [name, c] of calls) {
            const ended = await outcome(() => c(q, lease));
            if (!isSluiceError(ended)) throw new Error(`${name} ended with ${String(ended)}`, { cause: ended });
          }
          // Whatever was refused, what was stored is still there and still works.
          const before = await q.size();
          await q.push('last');
          expect(await q.size()).toBe(before + 1);
        } finally {
          await q.close();
        }
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('Queue.open given anything rejects with a SluiceError (or opens)', async () => {
    const names = ['name', 'store', 'codec', 'segmentItems', 'segmentBytes', 'maxItemBytes', 'leaseMs', 'durability', 'corruption', 'pollMs', 'clock', 'partitions', 'other'];
    await opensOrRefuses((o) => Queue.open(o), names, junk, () => ({ name: 'q', store: new MemoryStore() }));
  }, 60_000);

  it('new Queue() from JavaScript, given anything (good options too), is refused with a SluiceError naming Queue.open', () => {
    const construct = (options: unknown) => new (Queue as unknown as new (options: unknown) => Queue<unknown>)(options);
    const refusal = { code: 'ERR_INVALID_OPTION', message: "Use `await Queue.open(options)`, not `new Queue()`." };
    for (const options of [undefined, null, 1, {}, { name: 'q', store: new MemoryStore() }]) expect(() => construct(options)).toThrow(expect.objectContaining(refusal));
    fc.assert(fc.property(junk, (options) => void expect(() => construct(options)).toThrow(expect.objectContaining(refusal))), { numRuns: RUNS });
  });

  it("a codec of the app's that returns anything: every call ends in a SluiceError (or works), and what it stored reads back", async () => {
    const bytes = fc.oneof(junk, fc.uint8Array({ maxLength: 8 }));
    const many = fc.oneof(junk, fc.record({ bytes, ends: fc.oneof(junk, fc.array(fc.oneof(fc.integer({ min: -2, max: 20 }), junk), { maxLength: 4 })) }));
    await fc.assert(
      fc.asyncProperty(bytes, fc.option(many), fc.array(fc.oneof(fc.integer(), fc.string()), { minLength: 1, maxLength: 3 }), async (encoded, batch, items) => {
        const written = new Set<Uint8Array>();
        const codec = {
          encode: () => (encoded instanceof Uint8Array && written.add(encoded), encoded),
          decode: (b: Uint8Array) => b.length,
          ...(batch !== null && { encodeMany: () => batch }),
        };
        const q = await Queue.open<unknown>({ name: 'q', store: new MemoryStore(), codec: codec as never, clock: new FakeClock() });
        try {
          for (const c of [() => q.push(items[0]), () => q.pushMany(items)]) {
            const ended = await outcome(c);
            if (!isSluiceError(ended)) throw new Error(`a push ended with ${String(ended)}`, { cause: ended });
          }
          // What was stored was what the codec gave, whole: each item reads back as its length.
          for (const { value } of await q.list()) expect(typeof value).toBe('number');
        } finally {
          await q.close();
        }
      }),
      { numRuns: RUNS },
    );
  }, 60_000);
});
