// The outbox's every public call given anything a caller might pass by mistake: a SluiceError with a code (or it
// works), never a TypeError from deep inside, and the outbox still stores and delivers afterwards.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox, SluiceError } from '../../src/index.js';
import { FakeClock } from '../support/fake-clock.js';

const RUNS = Number(process.env.SLUICE_PROPERTY_RUNS ?? 100);

/** How `call` ended: 'ok', or what it threw or rejected with. */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    return error;
  }
}

const typed = (ended: unknown) => ended === 'ok' || (ended instanceof SluiceError && typeof ended.code === 'string');

// Values of every type, and near misses of the right ones.
const junk = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true }),
  fc.constantFrom(-1, 0, 0.5, NaN, Infinity, '', ' ', 'x', '/x', 'http://', 'ftp://x.test/', 'https://x.test/a', [], [''], {}, null, undefined, () => true, Symbol('s')),
);
const FIELDS = ['url', 'method', 'headers', 'body', 'id', 'group', 'priority', 'notBefore', 'expiresAt', 'key', 'mode', 'credentials', 'other'];
/** A task with some fields junk: mostly with a URL that works, so that what follows it is checked too. */
const task = fc.oneof(
  junk,
  fc.dictionary(fc.constantFrom(...FIELDS), junk),
  fc.tuple(fc.dictionary(fc.constantFrom(...FIELDS), junk), fc.constantFrom('/t', 'https://x.test/t')).map(([t, url]) => ({ ...t, url })),
);
const options = fc.oneof(junk, fc.dictionary(fc.constantFrom('limit', 'group', 'state', 'signal', 'reachable', 'other'), junk));

type Call = (outbox: Outbox) => unknown;
const call: fc.Arbitrary<[string, Call]> = fc.oneof(
  task.map((t): [string, Call] => ['enqueue', (o) => o.enqueue(t as never)]),
  fc.oneof(junk, fc.array(task, { maxLength: 4 })).map((ts): [string, Call] => ['enqueueMany', (o) => o.enqueueMany(ts as never)]),
  fc.tuple(junk, junk).map(([input, init]): [string, Call] => ['fetch', (o) => o.fetch(input as never, init as never)]),
  options.map((f): [string, Call] => ['flush', (o) => o.flush(f as never)]),
  options.map((f): [string, Call] => ['list', (o) => o.list(f as never)]),
  junk.map((ids): [string, Call] => ['remove', (o) => o.remove(ids as never)]),
  junk.map((on): [string, Call] => ['setOnline', (o) => o.setOnline(on as never)]),
  options.map((f): [string, Call] => ['dead.list', (o) => o.dead.list(f as never)]),
  junk.map((ids): [string, Call] => ['dead.retry', (o) => o.dead.retry(ids as never)]),
  junk.map((ids): [string, Call] => ['dead.purge', (o) => o.dead.purge(ids as never)]),
);

/** Answers 200 to every request, reading its body. */
const answer: typeof fetch = async (input, init) => {
  await new Request(input, init).arrayBuffer();
  return new Response('ok');
};

describe('bad input to the Outbox', () => {
  it('every call given anything rejects with a SluiceError (or works), and the outbox goes on delivering', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { maxLength: 8 }), async (calls) => {
        const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'https://x.test', fetch: answer, clock: new FakeClock() });
        try {
          for (const [name, c] of calls) {
            const ended = await outcome(() => c(outbox));
            if (!typed(ended)) throw new Error(`${name} ended with ${String(ended)}`, { cause: ended });
          }
          // Whatever was refused, the outbox still stores and delivers.
          outbox.setOnline(true);
          await outbox.dead.purge();
          const id = await outbox.enqueue({ url: '/last' });
          expect(await outbox.flush({ reachable: true })).toMatchObject({ remaining: 0 });
          expect(await outbox.list()).toEqual([]);
          expect((await outbox.dead.list()).map((d) => d.task.id)).not.toContain(id);
        } finally {
          await outbox.close();
        }
      }),
      { numRuns: RUNS },
    );
  }, Math.max(30_000, RUNS * 300));

  it('Outbox.open given anything rejects with a SluiceError (or opens)', async () => {
    const names = ['name', 'store', 'baseUrl', 'fetch', 'headers', 'concurrency', 'ordering', 'retry', 'timeoutMs', 'redirect', 'maxBodyBytes', 'classify', 'batch', 'durability', 'limits', 'partitions', 'clock', 'other'];
    await fc.assert(
      fc.asyncProperty(fc.oneof(junk, fc.dictionary(fc.constantFrom(...names), junk)), fc.boolean(), async (o, fix) => {
        const given = fix && typeof o === 'object' && o !== null ? { ...o, name: 'api', store: new MemoryStore() } : o;
        const ended = await outcome(async () => (await Outbox.open(given as never)).close());
        if (!typed(ended)) throw new Error(`open ended with ${String(ended)}`, { cause: ended });
      }),
      { numRuns: RUNS },
    );
  }, Math.max(30_000, RUNS * 300));
});
