// The outbox's every public call given anything a caller might pass by mistake: a SluiceError with a code (or it
// works), never a TypeError from deep inside, and the outbox still stores and delivers afterwards.
import { Readable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';
import { junk as anyJunk, opensOrRefuses, outcome, RUNS, typed } from '../support/bad-input.js';
import { FakeClock } from '../support/fake-clock.js';
import { normaliseTask } from '../../src/outbox/task.js';

// Values of every type, and near misses of URLs.
const junk = anyJunk(' ', 'x', '/x', 'http://', 'ftp://x.test/', 'https://x.test/a', ['']);
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
  options.map((f): [string, Call] => ['whenDrained', (o) => o.whenDrained(f as never)]),
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
    await opensOrRefuses((o) => Outbox.open(o), names, junk, () => ({ name: 'api', store: new MemoryStore() }));
  }, Math.max(30_000, RUNS * 300));

  it('new Outbox() from JavaScript, given anything (good options too), is refused with a SluiceError naming Outbox.open', () => {
    const construct = (...args: unknown[]) => new (Outbox as unknown as new (...args: unknown[]) => Outbox)(...args);
    const refusal = { code: 'ERR_INVALID_OPTION', message: "Use `await Outbox.open(options)`, not `new Outbox()`." };
    for (const options of [undefined, null, 'api', { name: 'api', store: new MemoryStore() }]) expect(() => construct(options)).toThrow(expect.objectContaining(refusal));
    fc.assert(fc.property(junk, junk, (options, queue) => void expect(() => construct(options, queue)).toThrow(expect.objectContaining(refusal))), { numRuns: RUNS });
  });
});

describe('hooks and a transport that return anything', () => {
  // Per hook, what each call of it gives: anything, and near misses of what it should give (responses of odd statuses
  // and headers, verdicts, tasks with fields of anything, headers of anything).
  const always = (value: fc.Arbitrary<unknown>) => value.map((v) => () => v);
  const retryAfter = fc.oneof(fc.constantFrom('0', '1', '-1', '1e9', 'soon', 'Wed, 21 Oct 2015 07:28:00 GMT', ''), fc.string());
  const response = fc.tuple(fc.integer({ min: 200, max: 599 }), retryAfter, fc.string()).map(([status, after, location]) => () => {
    const headers = new Headers();
    try {
      headers.set('retry-after', after);
      headers.set('location', location);
    } catch {
      // Not a header value: left out.
    }
    return new Response([204, 205, 304].includes(status) ? null : 'x', { status, headers });
  });
  const lookalike = always(
    fc.record(
      { status: fc.oneof(junk, fc.integer({ min: 100, max: 999 })), headers: fc.constant({ get: () => 'x' }), arrayBuffer: fc.constant(async () => new ArrayBuffer(0)), body: junk, type: junk, bodyUsed: junk },
      { requiredKeys: [] },
    ),
  );
  const given: Record<string, fc.Arbitrary<() => unknown>> = {
    fetch: fc.oneof(always(junk), response, lookalike),
    classify: always(fc.oneof(junk, fc.constantFrom('sent', 'retry', 'dead', 'Sent', 'ok'))),
    onBeforeSend: always(fc.oneof(junk, task)),
    headers: always(fc.oneof(junk, fc.dictionary(fc.string(), junk), fc.dictionary(fc.string(), fc.string()))),
  };
  const hookValue = fc.oneof(...Object.entries(given).map(([hook, make]) => fc.tuple(fc.constant(hook), make)));
  it('a flush settles every task (sent, waiting to retry, or dead), with no error but SluiceErrors and events', async () => {
    await fc.assert(
      fc.asyncProperty(hookValue, fc.boolean(), async ([hook, make], async) => {
        const give = () => (async ? Promise.resolve(make()) : make());
        const errors: unknown[] = [];
        const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'https://x.test', fetch: answer, clock: new FakeClock(), [hook]: give } as never);
        outbox.addEventListener('error', (e) => errors.push(e.detail.error));
        try {
          const ids = await outbox.enqueueMany([{ url: '/a', body: { n: 1 } }, { url: '/b', group: 'g' }]);
          const ended = await outcome(() => outbox.flush({ reachable: true }));
          if (!typed(ended)) throw new Error(`flush with ${hook} giving ${fc.stringify(make())} ended with ${String(ended)}`, { cause: ended });
          for (const error of errors) if (!typed(error)) throw new Error(`'error' event with ${String(error)}`, { cause: error });
          const pending = (await outbox.list()).map((t) => t.id);
          const dead = (await outbox.dead.list()).map((d) => d.task.id);
          // Each task is in one place at most: sent (neither), pending or dead.
          for (const id of ids) expect(pending.includes(id) && dead.includes(id)).toBe(false);
        } finally {
          await outbox.close();
        }
      }),
      { numRuns: RUNS },
    );
  }, Math.max(30_000, RUNS * 300));
});

describe('a transport that is not quite fetch', () => {
  /** An outbox over `transport`, with what it says in 'retry' and 'error' events. */
  const over = async (transport: () => Promise<unknown>) => {
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'https://x.test', fetch: transport as typeof fetch, clock: new FakeClock() });
    const retries: { status?: number; error?: string }[] = [];
    const errors: unknown[] = [];
    outbox.addEventListener('retry', (e) => retries.push(e.detail));
    outbox.addEventListener('error', (e) => errors.push(e.detail.error));
    await outbox.enqueue({ url: '/a' });
    return { outbox, retries, errors, flushed: await outbox.flush({ reachable: true }) };
  };

  it('one that resolves with something else fails the attempt, saying so: retried, not taken for the network gone', async () => {
    const { outbox, retries, errors, flushed } = await over(async () => []);
    expect(flushed).toMatchObject({ sent: 0, retried: 1, remaining: 1 });
    expect(retries).toMatchObject([{ error: expect.stringContaining('Expected `fetch` to resolve with a Response, got an array.') }]);
    expect(errors).toEqual([]);
    expect(outbox.online).toBe(true);
    await outbox.close();
  });

  it("one whose response body is a Node stream (node-fetch's): the body it does not read is destroyed, not cancelled", async () => {
    const body = Readable.from(['unavailable']);
    const { outbox, retries, errors } = await over(async () => ({ status: 503, headers: new Headers(), bodyUsed: false, body, arrayBuffer: async () => new ArrayBuffer(0) }));
    expect(retries).toMatchObject([{ status: 503 }]);
    expect(errors).toEqual([]);
    expect(body.destroyed).toBe(true);
    await outbox.close();
  });

  it('one whose 2xx has no `body` field at all: its body is read to the end all the same, and one that breaks off is retried, not sent', async () => {
    const broken = () => Promise.reject(new TypeError('terminated'));
    const { outbox, retries, flushed } = await over(async () => ({ status: 200, headers: new Headers(), arrayBuffer: broken }));
    expect(flushed).toMatchObject({ sent: 0, retried: 1, remaining: 1 });
    expect(retries).toMatchObject([{ error: expect.stringContaining('terminated') }]);
    await outbox.close();
    const whole = await over(async () => ({ status: 200, headers: new Headers(), arrayBuffer: async () => new ArrayBuffer(2) }));
    expect(whole.flushed).toMatchObject({ sent: 1, retried: 0, remaining: 0 });
    await whole.outbox.close();
  });
});

describe('inputs fetch or JSON would turn into something else', () => {
  const open = () => Outbox.open({ name: 'odd', store: new MemoryStore(), baseUrl: 'https://x.test', fetch: answer });

  it('a header value with a control character (but tab) is refused at enqueue: Node sends none of them', async () => {
    const outbox = await open();
    for (const value of ['x\x01y', 'x\x1fy', 'x\x7fy']) {
      await expect(outbox.enqueue({ url: '/t', headers: { a: value } })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('control character') });
    }
    await outbox.enqueue({ url: '/t', headers: { a: 'x\ty é' } });
    expect(await outbox.size()).toBe(1);
    await outbox.close();
  });

  it('notBefore and expiresAt of -0 are the epoch, as 0 is', async () => {
    const outbox = await open();
    await outbox.enqueue({ url: '/t', id: 'a', notBefore: -0, expiresAt: Date.now() + 60_000 });
    await outbox.enqueue({ url: '/t', id: 'b', expiresAt: -0 }).catch((error: { code: string }) => expect(error.code).not.toBe('ERR_NOT_SERIALIZABLE'));
    expect((await outbox.list()).map((t) => t.id)).toContain('a');
    await outbox.close();
  });

  it('a detached ArrayBuffer (transferred) is ERR_INVALID_TASK, not a TypeError; a SharedArrayBuffer goes as its bytes', async () => {
    const outbox = await open();
    const gone = new ArrayBuffer(8);
    const view = new Uint8Array(gone, 2, 4);
    structuredClone(gone, { transfer: [gone] });
    await expect(outbox.enqueue({ url: '/t', body: gone })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('detached') });
    await expect(outbox.enqueue({ url: '/t', body: view })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    const shared = new SharedArrayBuffer(3);
    new Uint8Array(shared).set([1, 2, 3]);
    await outbox.enqueue({ url: '/t', id: 'shared', body: shared });
    const [stored] = await outbox.list();
    expect(stored).toMatchObject({ id: 'shared' });
    await outbox.close();
  });

  it("a task too large to store says what to do in an outbox's words (it has no maxItemBytes)", async () => {
    const outbox = await open();
    const error = await outbox.enqueue({ url: '/t', headers: { 'x-big': 'a'.repeat(1_200_000) } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ITEM_TOO_LARGE', message: expect.stringContaining('`body`') });
    expect((error as Error).message).not.toContain('maxItemBytes');
    expect(await outbox.size()).toBe(0);
    await outbox.close();
  });

  it('an Error, a RegExp, a Promise, a WeakMap or a WeakSet in a JSON body is refused: JSON would send {}', async () => {
    const outbox = await open();
    for (const value of [new Error('boom'), /x/, Promise.resolve(1), new WeakMap(), new WeakSet()]) {
      await expect(outbox.enqueue({ url: '/t', body: { value } })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('would be sent as {}') });
      await expect(outbox.enqueue({ url: '/t', body: value as never })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    }
    expect(await outbox.size()).toBe(0);
    await outbox.close();
  });

  it('bytes, a Blob, a form or a stream inside a JSON body is refused: JSON would send {} or numbered bytes', async () => {
    const outbox = await open();
    const form = new FormData();
    form.set('a', '1');
    const values = [new Blob(['hello']), new URLSearchParams('a=1'), form, new Uint8Array([1, 2]), new ArrayBuffer(2), new DataView(new ArrayBuffer(2)), new Headers({ a: '1' }), new ReadableStream()];
    for (const value of values) {
      await expect(outbox.enqueue({ url: '/t', body: { file: value } })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('at "file" would be sent as') });
    }
    // A Node Buffer says how it goes in JSON itself (toJSON): sent as it says.
    await outbox.enqueue({ url: '/t', body: { file: Buffer.from('hi') } });
    expect(await outbox.size()).toBe(1);
    await outbox.close();
  });

  it('a platform object in a JSON body (an Event, a signal, a WeakRef, an iterator) is refused, not sent as its own fields only', async () => {
    const outbox = await open();
    // An Event's detail, a signal's state, what a WeakRef or an iterator holds: JSON writes `{"isTrusted":false}` or `{}`.
    // Another realm's too (a vm's, an iframe's): told by the tag, and a class of the platform's.
    const values = [new CustomEvent('x', { detail: { a: 1 } }), new AbortController().signal, new WeakRef({}), [1, 2].values(), (function* () {})(), runInNewContext('new Map([[1, 2]])'), runInNewContext('new Error("boom")')];
    for (const value of values) {
      await expect(outbox.enqueue({ url: '/t', body: { order: value } })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('at "order" would be sent as {} or its own fields only') });
      await expect(outbox.enqueue({ url: '/t', body: value as never })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK' });
    }
    // What says how it goes in JSON (toJSON), boxed primitives, arguments and the app's own classes go as JSON writes them.
    class Money {
      amount = 5;
    }
    const tagged = { [Symbol.toStringTag]: 'Price', toJSON: () => ({ cents: 500 }) };
    // A tag the app gives its own class or object says nothing of what JSON loses.
    class Order {
      id = 7;
      get [Symbol.toStringTag]() {
        return 'Order';
      }
    }
    const own = { [Symbol.toStringTag]: 'Line', sku: 'x' };
    const args = (function (..._: number[]) {
      // eslint-disable-next-line prefer-rest-params
      return arguments;
    })(1, 2);
    const body = { at: new URL('http://a.test/x'), n: Object(1), s: Object('x'), b: Object(true), args, money: new Money(), tagged, order: new Order(), own, realm: runInNewContext('({ a: [1] })') };
    expect(normaliseTask({ url: 'http://a.test', body }, undefined, Date.now(), 'idempotency-key').body).toEqual({
      json: { at: 'http://a.test/x', n: 1, s: 'x', b: true, args: { 0: 1, 1: 2 }, money: { amount: 5 }, tagged: { cents: 500 }, order: { id: 7 }, own: { sku: 'x' }, realm: { a: [1] } },
    });
    await outbox.close();
  });

  it('a Node stream read from, ended or destroyed already is refused, not stored as the little left of it', async () => {
    const outbox = await open();
    const read = Readable.from([Buffer.from('xyz')]);
    read.resume();
    await new Promise((resolve) => setImmediate(resolve));
    const ended = Readable.from([Buffer.from('xyz')]);
    for await (const chunk of ended) void chunk;
    const destroyed = Readable.from([Buffer.from('xyz')]).destroy();
    const flowing = Readable.from([Buffer.from('xyz')]);
    flowing.on('data', () => undefined);
    for (const body of [read, ended, destroyed, flowing]) {
      await expect(outbox.enqueue({ url: '/t', body })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('not yet read') });
    }
    flowing.destroy();
    await outbox.enqueue({ url: '/t', body: Readable.from([Buffer.from('xyz')]) });
    expect(await outbox.size()).toBe(1);
    await outbox.close();
  });
});

describe('enqueue given an array', () => {
  // Before, each was taken for one task and refused for what it lacked ("task `url`", "task `0`"), not for being many.
  it('says it takes one task, and enqueueMany several; nothing is stored', async () => {
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'https://x.test', clock: new FakeClock() });
    for (const tasks of [[], [{ url: '/a' }]]) {
      await expect(outbox.enqueue(tasks as never)).rejects.toMatchObject({
        code: 'ERR_INVALID_TASK',
        message: `Expected \`task\` to be one task, got an array of ${tasks.length}: enqueueMany takes several.`,
      });
    }
    expect(await outbox.size()).toBe(0);
    await outbox.close();
  });
});

describe('enqueue given a URL', () => {
  it('says it takes a task or a Request, not that the URL lacks a `url`; nothing is stored', async () => {
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'https://x.test', clock: new FakeClock() });
    await expect(outbox.enqueue(new URL('https://x.test/a') as never)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringMatching(/^Expected a task: an HttpTask .* or a Request, got /) });
    expect(await outbox.size()).toBe(0);
    await outbox.close();
  });
});

describe('a URL with a password, refused for another reason', () => {
  it('is never echoed with its password: enqueue, baseUrl, batch.url and RedisStore url alike', async () => {
    const { RedisStore } = await import('../../src/redis.js');
    const outbox = await Outbox.open({ name: 'secrets', store: new MemoryStore() });
    const refusals: unknown[] = [
      await outbox.enqueue({ url: 'https://u:s3cret@x.test:25/' }).catch((e: unknown) => e),
      await outbox.enqueue({ url: 'htps://u:s3cret@x.test/' }).catch((e: unknown) => e),
      await Outbox.open({ name: 'b', store: new MemoryStore(), baseUrl: 'ftp://u:s3cret@x.test/' }).catch((e: unknown) => e),
      await Outbox.open({ name: 'c', store: new MemoryStore(), batch: { url: 'ftp://u:s3cret@x.test/b' } }).catch((e: unknown) => e),
      ...['redis:/user:s3cret@h', ' redis://:s3cret@h', 'valkey://:s3cret@h:6379'].map((url) => {
        try {
          return new RedisStore({ url });
        } catch (error) {
          return error;
        }
      }),
    ];
    await outbox.close();
    for (const error of refusals) {
      expect(error).toMatchObject({ code: expect.stringMatching(/^ERR_INVALID_(TASK|OPTION)$/) });
      expect((error as Error).message).not.toContain('s3cret');
    }
  });
});

describe('a Date where epoch milliseconds belong', () => {
  it('is refused with the way to give it: date.getTime()', async () => {
    const outbox = await Outbox.open({ name: 'dates', store: new MemoryStore() });
    for (const field of ['notBefore', 'expiresAt']) {
      await expect(outbox.enqueue({ url: 'https://x.test/a', [field]: new Date() } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('date.getTime()') });
    }
    await outbox.close();
  });
});

describe('enqueue given options beside the task', () => {
  // As other queues take them: before, `{ group }` was ignored, and the task went in the default group, in another order.
  it('says a task carries its own group and fields; nothing is stored', async () => {
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), baseUrl: 'https://x.test', clock: new FakeClock() });
    const enqueue = outbox.enqueue.bind(outbox) as (...args: unknown[]) => Promise<string>;
    const enqueueMany = outbox.enqueueMany.bind(outbox) as (...args: unknown[]) => Promise<string[]>;
    const message = (method: string) => `${method}() takes no options, got an object as a second argument: a task's group, key, headers and other fields go in the task itself.`;
    await expect(enqueue({ url: '/a' }, { group: 'g' })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: message('enqueue') });
    await expect(enqueueMany([{ url: '/a' }], { group: 'g' })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: message('enqueueMany') });
    expect(await outbox.size()).toBe(0);
    // What is no object is no option: `enqueue(task, undefined)` goes on as `enqueue(task)`, and so does a call by
    // `map`, which gives the index (and the array) too.
    await enqueue({ url: '/a' }, undefined);
    await enqueueMany([{ url: '/b' }], null);
    await Promise.all([{ url: '/c' }, { url: '/d' }].map(outbox.enqueue, outbox));
    expect(await outbox.size()).toBe(4);
    await outbox.close();
    // Closed, both say so first, whatever else is wrong with the call.
    for (const call of [() => enqueue({ url: '/a' }, { group: 'g' }), () => enqueue([{ url: '/a' }]), () => enqueueMany([{ url: '/a' }], { group: 'g' }), () => enqueueMany({ url: '/a' })]) {
      await expect(call()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    }
  });
});

describe('fetch given an init that is no object', () => {
  // As fetch refuses it (a TypeError): before, a number, a string or true went out as no init at all, unseen.
  it('is refused ERR_INVALID_OPTION naming `init`, nothing sent or stored; null, undefined, an array or a function are taken as fetch takes them', async () => {
    const sent: string[] = [];
    const transport = async (input: string | Request) => (sent.push(new Request(input).method), new Response('ok'));
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), fetch: transport, clock: new FakeClock() });
    const fetch = outbox.fetch.bind(outbox) as (input: string, init?: unknown) => Promise<Response>;
    for (const init of [5, 0, 'POST', true, Symbol('s'), 1n]) {
      await expect(fetch('https://x.test/a', init)).rejects.toMatchObject({ name: 'SluiceError', code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`init`') });
    }
    expect({ sent, size: await outbox.size() }).toEqual({ sent: [], size: 0 });
    for (const init of [null, undefined, [], () => 1]) expect((await fetch('https://x.test/a', init)).status).toBe(200);
    expect(sent).toEqual(['GET', 'GET', 'GET', 'GET']);
    await outbox.close();
  });
});

describe('fetch given an init whose members are inherited', () => {
  // fetch reads an init's members wherever they are (`new Request(url, init)` does): a spread of it kept only its own,
  // and the request went out as a GET without its body, unseen.
  it('sends them, as fetch would', async () => {
    const sent: string[] = [];
    const transport = async (input: string | Request) => {
      const request = new Request(input);
      sent.push(`${request.method} ${await request.text()}`);
      return new Response('ok');
    };
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), fetch: transport, clock: new FakeClock() });
    const init = Object.create({ method: 'PUT', body: 'inherited' }) as RequestInit;
    expect((await outbox.fetch('https://x.test/a', init)).status).toBe(200);
    expect(sent).toEqual(['PUT inherited']);
    await outbox.close();
  });
});
