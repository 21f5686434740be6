import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { resolveOutboxOptions } from '../../src/outbox/options.js';
import { MemoryStore, Outbox } from '../../src/index.js';
import { batchKey, buildBatchRequest, buildRequest } from '../../src/outbox/request.js';
import { decodeBody } from '../../src/outbox/body.js';
import { normaliseTask, prepareTask } from '../../src/outbox/task.js';

const now = 1_700_000_000_000;

function rejects(fn: () => unknown, code: string, mention: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe(code);
    expect((error as SluiceError).message).toContain(mention);
    return;
  }
  expect.unreachable(`expected ${code} mentioning ${mention}`);
}

describe('normaliseTask()', () => {
  it('never echoes what may be a secret: a body refused for a GET, a URL with credentials however written', () => {
    for (const method of ['GET', 'HEAD']) {
      for (const body of ['user=alice&password=s3cret', { password: 's3cret' }]) {
        rejects(() => normaliseTask({ url: 'https://a.test/x', method, body }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', `absent for a ${method} request`);
        expect(() => normaliseTask({ url: 'https://a.test/x', method, body }, undefined, now, 'idempotency-key')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cret') }));
      }
    }
    for (const [url, base] of [['//alice:s3cret@files.test/x', undefined], ['//alice:s3cret@files.test/x', 'https://api.test/'], ['"https://alice:s3cret@api.test/x"', undefined]] as const) {
      expect(() => normaliseTask({ url }, base, now, 'idempotency-key')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TASK', message: expect.not.stringContaining('s3cret') }));
    }
  });

  it('resolves relative URLs against baseUrl, defaults POST, and generates an id', () => {
    const t = normaliseTask({ url: '/notes?x=1' }, 'https://api.test/v1/', now, 'idempotency-key');
    expect(t.url).toBe('https://api.test/notes?x=1');
    expect(t.method).toBe('POST');
    expect(t.id).toMatch(/^[0-9a-f]{32}$/);
    expect(t.createdAt).toBe(now);
  });

  it('stores an object body as JSON with content-type application/json, keeping a given one', () => {
    expect(normaliseTask({ url: 'http://a.test', body: { a: 1 } }, undefined, now, 'idempotency-key').headers['content-type']).toBe('application/json');
    const custom = normaliseTask({ url: 'http://a.test', body: { a: 1 }, headers: { 'Content-Type': 'application/merge-patch+json' } }, undefined, now, 'idempotency-key');
    expect(custom.headers['content-type']).toBe('application/merge-patch+json');
  });

  it('stores Uint8Array bodies byte for byte, through JSON storage', () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 128, 10]);
    const stored = JSON.parse(JSON.stringify(normaliseTask({ url: 'http://a.test', body: bytes }, undefined, now, 'idempotency-key')));
    expect(decodeBody(stored.body, undefined)).toEqual(bytes);
  });

  it('rejects bad input with ERR_INVALID_TASK naming the field', () => {
    rejects(() => normaliseTask({ url: '/relative' }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`url`');
    rejects(() => normaliseTask({ url: 'ftp://a.test/x' }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', 'http(s)');
    // Relative to the base's scheme only, '//host/x' names another host: the task, and headers()' tokens, would go there.
    for (const url of ['//evil.test/steal', '/\\evil.test/steal', '/\t/evil.test/steal', ' //evil.test/steal']) {
      rejects(() => normaliseTask({ url }, 'https://api.test/v1/', now, 'idempotency-key'), 'ERR_INVALID_TASK', 'it names the host evil.test');
    }
    expect(normaliseTask({ url: 'https://evil.test/meant' }, 'https://api.test/v1/', now, 'idempotency-key')).toMatchObject({ url: 'https://evil.test/meant' });
    expect(normaliseTask({ url: 'x/y' }, 'https://api.test/v1/', now, 'idempotency-key')).toMatchObject({ url: 'https://api.test/v1/x/y' });
    rejects(() => normaliseTask({ url: 'http://a.test', method: 'NO PE' }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`method`');
    rejects(() => normaliseTask({ url: 'http://a.test', priority: 'urgent' as 'high' }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`priority`');
    // null is no field's value but a body's (README, ERR_INVALID_OPTION): `priority: null` was taken for 'normal', alone.
    for (const field of ['priority', 'group', 'id', 'key', 'method', 'mode', 'credentials', 'notBefore', 'expiresAt']) {
      rejects(() => prepareTask({ url: 'http://a.test', [field]: null }, undefined, now, 'idempotency-key', true), 'ERR_INVALID_TASK', `\`${field}\``);
    }
    rejects(() => normaliseTask({ url: 'http://a.test', notBefore: Number.NaN }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`notBefore`');
    // Past a Date's range it is no time: stored, the task would wait for ever.
    rejects(() => normaliseTask({ url: 'http://a.test', notBefore: 1e300 }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`notBefore` to be epoch milliseconds of a date');
    rejects(() => normaliseTask({ url: 'http://a.test', expiresAt: 8.64e15 + 1 }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`expiresAt`');
    // Seconds (Date.now() / 1000 + 3600) or a duration: a task dead at once, or a notBefore that holds nothing back.
    for (const field of ['expiresAt', 'notBefore']) {
      for (const value of [Math.floor(now / 1000) + 3600, 60_000]) rejects(() => prepareTask({ url: 'http://a.test', [field]: value }, undefined, now, 'idempotency-key', true), 'ERR_INVALID_TASK', 'not seconds or a duration (as milliseconds, that is 1970)');
    }
    expect(normaliseTask({ url: 'http://a.test', notBefore: 0, expiresAt: 1e11 }, undefined, now, 'idempotency-key')).toMatchObject({ notBefore: 0, expiresAt: 1e11 });
    // Under a clock of 1970 (a test's fake timers at 0) a minute from now is such a value; and a task stored before,
    // read again for onBeforeSend's edit, is not refused for it.
    expect(prepareTask({ url: 'http://a.test', notBefore: 60_000 }, undefined, 0, 'idempotency-key', true).task).toMatchObject({ notBefore: 60_000 });
    expect(normaliseTask({ url: 'http://a.test', notBefore: 1_767_225_600 }, undefined, now, 'idempotency-key')).toMatchObject({ notBefore: 1_767_225_600 });
    expect(normaliseTask({ url: 'http://a.test', notBefore: 8.64e15, expiresAt: 8.64e15 }, undefined, now, 'idempotency-key')).toMatchObject({ notBefore: 8.64e15 });
    // It would go to dead as 'expired' without an attempt.
    rejects(() => normaliseTask({ url: 'http://a.test', notBefore: now + 2, expiresAt: now + 1 }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`notBefore` to be no later than `expiresAt`');
    rejects(() => normaliseTask({ url: 'http://a.test', headers: { a: 1 as unknown as string } }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`headers.a`');
    rejects(() => normaliseTask({ url: 'http://a.test', body: { n: 1n } }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`body`');
    rejects(() => normaliseTask({ url: 'http://a.test', method: 'GET', body: 'x' }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`body`');
    rejects(() => normaliseTask({ url: 'http://a.test', id: '' }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`id`');
  });

  it('refuses a URL string given as the task, saying what a task is (no empty field name)', () => {
    const given = () => normaliseTask('https://a.test/x' as unknown as { url: string }, undefined, now, 'idempotency-key');
    rejects(given, 'ERR_INVALID_TASK', 'an HttpTask ({ url,');
    expect(given).not.toThrow('``');
  });

  it('refuses headers given as a Headers or a Map, saying how to make the plain object (not naming their methods)', () => {
    for (const headers of [new Headers({ 'x-a': 'b' }), new Map([['x-a', 'b']])]) {
      const given = () => normaliseTask({ url: 'http://a.test', headers: headers as unknown as Record<string, string> }, undefined, now, 'idempotency-key');
      rejects(given, 'ERR_INVALID_TASK', 'Object.fromEntries(headers)');
      expect(given).not.toThrow('append');
    }
  });

  it('refuses a JSON body holding a Map or Set (JSON.stringify writes {}: its entries would be lost), at any depth', () => {
    rejects(() => normaliseTask({ url: 'http://a.test', body: new Map([['a', 1]]) }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', 'a Map would be sent as {}');
    rejects(() => normaliseTask({ url: 'http://a.test', body: { tags: new Set(['x']) } }, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', 'a Set at "tags"');
    expect(normaliseTask({ url: 'http://a.test', body: { at: new Date(0) } }, undefined, now, 'idempotency-key').body).toEqual({ json: { at: '1970-01-01T00:00:00.000Z' } });
  });

  it('refuses what fetch would refuse, naming the field, and never repeats a header value', () => {
    const task = (extra: object) => () => normaliseTask({ url: 'http://a.test', ...extra }, undefined, now, 'idempotency-key');
    for (const value of ['s3cr3t\r\nx-injected: 1', 's3cr3t\nsplit', 's3cr3t\0', 's3cr3t\u20ac']) {
      try {
        task({ headers: { 'x-api-key': value } })();
        expect.unreachable();
      } catch (error) {
        expect(error).toMatchObject({ code: 'ERR_INVALID_TASK' });
        expect((error as Error).message).toContain('`headers.x-api-key`');
        expect((error as Error).message).not.toContain('s3cr3t');
      }
    }
    // Latin-1 is a byte string: fetch sends it.
    expect(task({ headers: { 'x-name': 'caf\u00e9' } })().headers['x-name']).toBe('caf\u00e9');
    rejects(task({ headers: { 'bad name': 'x' } }), 'ERR_INVALID_TASK', '`headers."bad name"`');
    rejects(task({ headers: { 'x-n': 1 } }), 'ERR_INVALID_TASK', '`headers.x-n`');
    for (const id of ['a,b', 'with space', 'quote"', 'line\nbreak', 'x'.repeat(257), '\u00e9t\u00e9']) rejects(task({ id }), 'ERR_INVALID_TASK', '`id`');
    expect(task({ id: 'order-42:v1/\u0021~' })().id).toBe('order-42:v1/!~');
    rejects(task({ url: 'https://user:secret@a.test/x' }), 'ERR_INVALID_TASK', 'without credentials');
    for (const port of [0, 25, 6000, 6667, 10080]) rejects(task({ url: `https://a.test:${port}/x` }), 'ERR_INVALID_TASK', `it refuses ${port}`);
    for (const port of [80, 443, 3000, 8080]) expect(task({ url: `https://a.test:${port}/x` })().url).toMatch(/^https:\/\/a\.test/);
    try {
      task({ url: 'https://user:secret@a.test/x' })();
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
    }
    for (const method of ['CONNECT', 'trace', 'TRACK']) rejects(task({ method }), 'ERR_INVALID_TASK', '`method`');
    rejects(task({ mode: 'websocket' }), 'ERR_INVALID_TASK', '`mode`');
    rejects(task({ credentials: 'always' }), 'ERR_INVALID_TASK', '`credentials`');
    rejects(task({ method: 'HEAD', body: { a: 1 } }), 'ERR_INVALID_TASK', '`body`');
  });
});

describe('buildRequest()', () => {
  it('adds per-send headers, and an Idempotency-Key that neither stored nor per-send headers can change', async () => {
    const task = normaliseTask({ url: 'http://a.test/x', id: 'key-1', headers: { a: 'stored' }, body: 'hi' }, undefined, now, 'idempotency-key');
    const { url, init } = buildRequest(task, { authorization: 'Bearer t', 'Idempotency-Key': 'nope' }, undefined, 'idempotency-key');
    const request = new Request(url, init);
    expect(request.headers.get('idempotency-key')).toBe('key-1');
    expect(request.headers.get('authorization')).toBe('Bearer t');
    expect(request.headers.get('a')).toBe('stored');
    expect(await request.text()).toBe('hi');
  });

  it('sends a batch as one JSON array, keyed by a hash of the ids in order', async () => {
    const tasks = [
      normaliseTask({ url: 'http://a.test/1', id: 'a', body: { n: 1 } }, undefined, now, 'idempotency-key'),
      normaliseTask({ url: 'http://a.test/2', id: 'b', body: 'text' }, undefined, now, 'idempotency-key'),
    ];
    const { init } = buildBatchRequest('http://a.test/batch', tasks, {}, undefined, 'idempotency-key');
    const request = new Request('http://a.test/batch', init);
    expect(request.headers.get('idempotency-key')).toBe(batchKey(['a', 'b']));
    expect(batchKey(['a', 'b'])).toMatch(/^batch-2-[0-9a-f]{32}$/);
    expect(await request.json()).toEqual([{ n: 1 }, 'text']);
  });
});

describe('resolveOutboxOptions()', () => {
  it('merges the documented defaults', () => {
    const o = resolveOutboxOptions({ name: 'api' });
    expect(o).toMatchObject({ concurrency: 4, ordering: 'group', timeoutMs: 30_000, durability: 'relaxed', unloadFlush: true });
    expect(o.retry).toEqual({ initialDelayMs: 1000, maxDelayMs: 300_000, factor: 2, maxAttempts: Infinity, maxAgeMs: 604_800_000 });
    expect(o.limits).toEqual({ maxTasks: Infinity, maxBytes: Infinity, overflow: 'reject' });
  });

  it('refuses an option or task field it does not know, naming it: a misspelling would do nothing, silently', () => {
    rejects(() => resolveOutboxOptions({ name: 'api', timeout: 5 } as never), 'ERR_INVALID_OPTION', 'Unknown option `timeout`');
    // The option that provides tokens, given one: not echoed. Nor is a base URL's password, in quotes or scheme-relative.
    rejects(() => resolveOutboxOptions({ name: 'api', headers: 'Bearer s3cret-token' } as never), 'ERR_INVALID_OPTION', 'Expected `headers` to be a function, got a string.');
    for (const baseUrl of ['"https://alice:s3cret@api.test/"', '//alice:s3cret@api.test/']) {
      expect(() => resolveOutboxOptions({ name: 'api', baseUrl })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.not.stringContaining('s3cret') }));
    }
    rejects(() => resolveOutboxOptions({ name: 'api', baseURL: 'http://a.test' } as never), 'ERR_INVALID_OPTION', '`baseURL`');
    rejects(() => resolveOutboxOptions({ name: 'api', retry: { maxRetries: 3 } } as never), 'ERR_INVALID_OPTION', '`retry.maxRetries`');
    rejects(() => resolveOutboxOptions({ name: 'api', limits: { max: 3 } } as never), 'ERR_INVALID_OPTION', '`limits.max`');
    rejects(() => resolveOutboxOptions({ name: 'api', batch: { url: '/b', size: 3 } } as never), 'ERR_INVALID_OPTION', '`batch.size`');
    rejects(() => normaliseTask({ url: 'https://a.test/x', methd: 'PUT' } as never, undefined, now, 'idempotency-key'), 'ERR_INVALID_TASK', '`methd`');
    // A field left undefined is no field: a task spread with \`id: undefined\` is taken.
    expect(normaliseTask({ url: 'https://a.test/x', id: undefined, extra: undefined } as never, undefined, now, 'idempotency-key').url).toBe('https://a.test/x');
  });

  it('rejects bad options with ERR_INVALID_OPTION naming option, expected and given', async () => {
    rejects(() => resolveOutboxOptions({ name: 'api', concurrency: 0 }), 'ERR_INVALID_OPTION', '`concurrency` to be an integer >= 1');
    rejects(() => resolveOutboxOptions({ name: 'api', ordering: 'lifo' as 'fifo' }), 'ERR_INVALID_OPTION', 'got "lifo"');
    // Named as given: not as the queue's lease it sets (timeoutMs plus a minute), which the user never passed.
    rejects(() => resolveOutboxOptions({ name: 'api', timeoutMs: Infinity }), 'ERR_INVALID_OPTION', '`timeoutMs` to be a duration from 1 ms to a hundred years (3.1536e12 ms), got Infinity');
    rejects(() => resolveOutboxOptions({ name: 'api', retry: { factor: 0.5 } }), 'ERR_INVALID_OPTION', '`retry.factor`');
    // A delay grown to Infinity is no retry: it failed only at the first delivery, the task held until its lease ended.
    for (const retry of [{ initialDelayMs: Infinity }, { maxDelayMs: Infinity }, { factor: Infinity }]) {
      rejects(() => resolveOutboxOptions({ name: 'api', retry }), 'ERR_INVALID_OPTION', `\`retry.${Object.keys(retry)[0]}\``);
    }
    rejects(() => resolveOutboxOptions({ name: 'api', retry: { maxAttempts: 1.5 } }), 'ERR_INVALID_OPTION', '`retry.maxAttempts`');
    // Finite but past any wait that ends: flush and close would wait that long on a server that never answers.
    rejects(() => resolveOutboxOptions({ name: 'api', timeoutMs: 1e300 }), 'ERR_INVALID_OPTION', '`timeoutMs`');
    // The batch's url as a task's: '//host/x' names another host, whom headers()' tokens would reach.
    rejects(() => resolveOutboxOptions({ name: 'api', baseUrl: 'https://api.test/v1/', batch: { url: '//other.test/collect' } }), 'ERR_INVALID_OPTION', 'it names the host other.test');
    resolveOutboxOptions({ name: 'api', baseUrl: 'https://api.test/v1/', batch: { url: 'https://other.test/collect' } });
    // The longest timeout there is opens: its queue's lease (the timeout plus a minute) is held to the longest a queue takes.
    await (await Outbox.open({ name: 'api', store: new MemoryStore(), timeoutMs: 100 * 365 * 24 * 3600_000 })).close();
    rejects(() => resolveOutboxOptions({ name: 'api', retry: { maxDelayMs: 1e300 } }), 'ERR_INVALID_OPTION', '`retry.maxDelayMs`');
    // null is no option's value, as in a Queue's options: refused, not taken for the default.
    for (const key of ['store', 'concurrency', 'ordering', 'timeoutMs', 'classify', 'redirect', 'durability', 'clock', 'random', 'partitions']) {
      rejects(() => resolveOutboxOptions({ name: 'api', [key]: null }), 'ERR_INVALID_OPTION', `\`${key}\` to be`);
    }
    // Only false holds sending back: a function there (a getter's slip) would read as online for ever.
    const subscribe = () => () => undefined;
    for (const online of [() => false, 5, 'no']) {
      rejects(() => resolveOutboxOptions({ name: 'api', connectivity: { online, subscribe } as never }), 'ERR_INVALID_OPTION', '`connectivity`');
    }
    resolveOutboxOptions({ name: 'api', connectivity: { online: undefined, subscribe } });
    rejects(() => resolveOutboxOptions({ name: 'api', baseUrl: 'nope' }), 'ERR_INVALID_OPTION', '`baseUrl`');
    rejects(() => resolveOutboxOptions({ name: 'api', batch: {} as { url: string } }), 'ERR_INVALID_OPTION', 'Expected `batch.url` to be a non-empty URL (where batches go), got undefined');
    rejects(() => resolveOutboxOptions({ name: 'api', limits: { overflow: 'drop' as 'reject' } }), 'ERR_INVALID_OPTION', '`limits.overflow`');
    rejects(() => resolveOutboxOptions({ name: 'api', fetch: 'x' as unknown as typeof fetch }), 'ERR_INVALID_OPTION', '`fetch`');
    rejects(() => resolveOutboxOptions({ name: 'bad name' }), 'ERR_INVALID_NAME', '`name`');
  });

  it('a name of 124–128 characters, valid for a queue, is too long for an outbox: ERR_INVALID_NAME, as any bad name', () => {
    expect(resolveOutboxOptions({ name: 'a'.repeat(123) }).name).toHaveLength(123);
    for (const length of [124, 128, 129]) rejects(() => resolveOutboxOptions({ name: 'a'.repeat(length) }), 'ERR_INVALID_NAME', '1–123 characters');
    for (const name of ['', '..', 'bad name', 5, 'report.pm', 'video.p720', 'api.dead', 'api.DEAD']) rejects(() => resolveOutboxOptions({ name: name as string }), 'ERR_INVALID_NAME', '1–123 characters');
  });

  it("a path-relative task URL against a baseUrl path without its closing '/': refused, naming the segment it would lose", () => {
    rejects(() => normaliseTask({ url: 'notes' }, 'https://api.test/v1', now, 'idempotency-key'), 'ERR_INVALID_TASK', "'notes' against https://api.test/v1 would lose 'v1'");
    rejects(() => normaliseTask({ url: './notes' }, 'https://api.test/v1', now, 'idempotency-key'), 'ERR_INVALID_TASK', "would lose 'v1'");
    // What resolves as meant, or as written: an absolute path or URL, a query; any URL against a base ending in '/'.
    expect(normaliseTask({ url: '/v1/notes' }, 'https://api.test/v1', now, 'idempotency-key').url).toBe('https://api.test/v1/notes');
    expect(normaliseTask({ url: '?page=2' }, 'https://api.test/v1', now, 'idempotency-key').url).toBe('https://api.test/v1?page=2');
    expect(normaliseTask({ url: 'https://api.test/x' }, 'https://api.test/v1', now, 'idempotency-key').url).toBe('https://api.test/x');
    expect(normaliseTask({ url: 'notes' }, 'https://api.test/v1/', now, 'idempotency-key').url).toBe('https://api.test/v1/notes');
    expect(normaliseTask({ url: 'notes' }, 'https://api.test', now, 'idempotency-key').url).toBe('https://api.test/notes');
    expect(resolveOutboxOptions({ name: 'api', baseUrl: 'https://api.test/v1' }).baseUrl).toBe('https://api.test/v1');
  });

  it('a baseUrl with credentials or an empty batch url: refused at open, not at each enqueue', () => {
    rejects(() => resolveOutboxOptions({ name: 'api', baseUrl: 'http://u:p@example.test/' }), 'ERR_INVALID_OPTION', '`baseUrl`');
    rejects(() => resolveOutboxOptions({ name: 'api', baseUrl: 'http://example.test/', batch: { url: '' } }), 'ERR_INVALID_OPTION', '`batch.url` to be a non-empty URL');
    // fetch refuses such a URL: every batch would fail as if the network were down.
    for (const url of ['http://u:pw@example.test/batch', '//u:pw@example.test/batch']) {
      const open = () => resolveOutboxOptions({ name: 'api', baseUrl: 'http://example.test/', batch: { url } });
      rejects(open, 'ERR_INVALID_OPTION', '`batch.url`');
      expect(open).toThrow('without a user name or password');
      expect(open).not.toThrow('pw');
    }
    rejects(() => resolveOutboxOptions({ name: 'api', baseUrl: 'http://example.test:6000/' }), 'ERR_INVALID_OPTION', 'it refuses 6000');
    rejects(() => resolveOutboxOptions({ name: 'api', baseUrl: 'http://example.test/', batch: { url: 'http://example.test:10080/batch' } }), 'ERR_INVALID_OPTION', '`batch.url`');
  });
});
