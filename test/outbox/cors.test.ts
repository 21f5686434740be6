import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore, Outbox, SluiceError } from '../../src/index.js';
import type { OutboxOptions } from '../../src/outbox/options.js';
import { FakeClock } from '../support/fake-clock.js';
import { io, pass } from './helpers.js';

// In a browser, fetch rejects a request the CORS check refuses with the same bare TypeError as no network. These
// tests fake a page's `location` and a fetch that does what a browser does to a host whose CORS answer refuses
// (`allowed` false): the request fails, while a probe in mode 'no-cors' is answered.

const PAGE = 'http://app.test';
const API = 'http://api.test';

interface Fake {
  /** What the host's CORS answer allows; false: every request in mode 'cors' fails as a browser fails it. */
  allowed: boolean;
  /** Whether the host is there at all (false: every request fails, probes too). */
  up: boolean;
  /** A probe that never settles (a host that takes the connection and says nothing). */
  silentProbe?: boolean;
  readonly posts: string[];
  readonly probes: RequestInit[];
  readonly fetch: NonNullable<OutboxOptions['fetch']>;
}

function fake(): Fake {
  const f: Fake = {
    allowed: false,
    up: true,
    posts: [],
    probes: [],
    fetch: async (input, init = {}) => {
      const cross = new URL(String(input)).origin !== PAGE;
      if (init.mode === 'no-cors') {
        f.probes.push(init);
        if (f.silentProbe) return new Promise<never>(() => undefined);
        if (!f.up) throw new TypeError('Failed to fetch');
        return new Response(null, { status: 405 });
      }
      if (!f.up || (cross && !f.allowed)) throw new TypeError('Failed to fetch');
      f.posts.push(String(input));
      return new Response('ok');
    },
  };
  return f;
}

let clock: FakeClock;
let f: Fake;
const opened: Outbox[] = [];
beforeEach(() => {
  clock = new FakeClock();
  f = fake();
  vi.stubGlobal('location', { origin: PAGE });
});
afterEach(async () => {
  vi.unstubAllGlobals();
  await Promise.allSettled(opened.splice(0).map((o) => o.close()));
});

/** An outbox on the fake fetch, and the details of its events by type. */
async function open(extra: Partial<OutboxOptions> = {}) {
  const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), clock, random: () => 0.5, fetch: f.fetch, ordering: 'none', concurrency: 4, ...extra });
  opened.push(outbox);
  const seen: Record<string, unknown[]> = {};
  for (const type of ['sent', 'retry', 'offline', 'online', 'error']) outbox.addEventListener(type, (e) => (seen[type] ??= []).push((e as CustomEvent).detail));
  return { outbox, seen: (type: string) => (seen[type] ?? []) as never[] };
}

describe('Outbox delivery to another origin whose CORS answer refuses', () => {
  it("names the refusal ERR_CORS ('error' once per origin, each 'retry'), marks nothing offline, and delivers once allowed", async () => {
    const { outbox, seen } = await open();
    for (let i = 0; i < 3; i++) await outbox.enqueue({ url: `${API}/notes`, body: { i }, headers: { 'X-Tenant': 'acme-secret-tenant' } });
    await outbox.flush();
    const errors = seen('error') as { error: SluiceError }[];
    expect(errors).toHaveLength(1);
    const { error } = errors[0]!;
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe('ERR_CORS');
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(error.message).toContain(API);
    expect(error.message).toContain(`Access-Control-Allow-Origin: ${PAGE}`);
    expect(error.message).toContain('Access-Control-Allow-Headers: Idempotency-Key, Content-Type, X-Tenant');
    expect(error.message).not.toContain('acme-secret-tenant');
    const retries = seen('retry') as { error: string }[];
    expect(retries).toHaveLength(3);
    for (const retry of retries) expect(retry.error).toMatch(/^CORS refused the request to `http:\/\/api\.test`/);
    expect(seen('offline')).toHaveLength(0);
    expect(outbox.online).toBe(true);
    // Three failures, one probe: HEAD, no-cors, no credentials, no cache.
    expect(f.probes).toHaveLength(1);
    expect(f.probes[0]).toMatchObject({ method: 'HEAD', mode: 'no-cors', credentials: 'omit', cache: 'no-store' });
    expect(f.posts).toEqual([]);

    f.allowed = true;
    await pass(clock, 120_000);
    await outbox.flush();
    expect(f.posts).toHaveLength(3);
    expect(seen('sent')).toHaveLength(3);
    expect(seen('error')).toHaveLength(1);
  });

  it('gives `classify` the ERR_CORS error, with the failure fetch rejected with as its cause', async () => {
    const given: unknown[] = [];
    const { outbox } = await open({ classify: (outcome) => (given.push(outcome), 'retry') });
    await outbox.enqueue({ url: `${API}/notes`, body: 'x' });
    await outbox.flush();
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({ code: 'ERR_CORS', cause: expect.any(TypeError) });
  });

  it("names `headers()`'s header names, never their values, and a method the preflight must allow", async () => {
    const { outbox, seen } = await open({ headers: () => ({ Authorization: 'Bearer tok-4f9a2c-secret' }) });
    await outbox.enqueue({ url: `${API}/notes/1`, method: 'PUT', body: 'text' });
    await outbox.flush();
    const { error } = (seen('error') as { error: SluiceError }[])[0]!;
    expect(error.message).toContain('Access-Control-Allow-Headers: Idempotency-Key, Authorization`');
    expect(error.message).toContain('Access-Control-Allow-Methods: PUT');
    expect(error.message).not.toContain('tok-4f9a2c');
    expect((seen('retry') as { error: string }[])[0]!.error).not.toContain('tok-4f9a2c');
  });

  it("probes each origin once in 10 s at most, and tells it in 'error' once in ten minutes, a success there or not", async () => {
    const { outbox, seen } = await open({ retry: { initialDelayMs: 1000, maxDelayMs: 1000 } });
    await outbox.enqueue({ url: `${API}/a`, body: 'x' });
    await outbox.flush();
    for (let i = 0; i < 4; i++) {
      await pass(clock, 2000);
      await outbox.flush();
    }
    expect(seen('retry').length).toBeGreaterThanOrEqual(3);
    expect(f.probes).toHaveLength(1);
    await pass(clock, 10_000);
    await outbox.flush();
    expect(f.probes).toHaveLength(2);
    expect(seen('error')).toHaveLength(1);
    f.allowed = true;
    await pass(clock, 2000);
    await outbox.flush();
    expect(seen('sent')).toHaveLength(1);
    // A success ends the verdict (the next refusal is probed), not what was told: a host that refuses some tasks and
    // takes others is told once.
    f.allowed = false;
    await outbox.enqueue({ url: `${API}/b`, body: 'y' });
    await outbox.flush();
    expect(f.probes).toHaveLength(3);
    expect(seen('error')).toHaveLength(1);
    await pass(clock, 10 * 60_000);
    await outbox.flush();
    expect(seen('error')).toHaveLength(2);
  });

  it('brings an outbox that is offline back online once a probe is answered: the network is there', async () => {
    f.up = false;
    const { outbox, seen } = await open({ retry: { initialDelayMs: 1000, maxDelayMs: 1000 } });
    await outbox.enqueue({ url: `${API}/a`, body: 'x' });
    await outbox.flush();
    expect(seen('offline')).toHaveLength(1);
    // The verdict 'not there' holds 10 s as the other does: the next probe after that finds the host.
    f.up = true;
    for (let i = 0; i < 8 && seen('online').length === 0; i++) {
      await pass(clock, 2000);
      await outbox.flush();
    }
    expect(seen('online')).toHaveLength(1);
    expect(outbox.online).toBe(true);
    expect(seen('error')).toHaveLength(1);
    f.allowed = true;
    await pass(clock, 120_000);
    await outbox.flush();
    expect(seen('sent')).toHaveLength(1);
  });

  it('a refused batch (its URL answers for no one host) takes the outbox offline, as a network error of it does, named ERR_CORS', async () => {
    const { outbox, seen } = await open({ batch: { url: `${API}/batch` } });
    await outbox.enqueue({ url: `${API}/a`, body: 'x' });
    await outbox.enqueue({ url: `${API}/b`, body: 'y' });
    await outbox.flush();
    expect(seen('offline')).toHaveLength(1);
    expect((seen('error') as { error: SluiceError }[])[0]!.error.code).toBe('ERR_CORS');
    expect((seen('retry') as { error: string }[])[0]!.error).toMatch(/^CORS refused/);
  });

  it('holds back no task to another host: the refused host waits its own backoff', async () => {
    const { outbox, seen } = await open();
    await outbox.enqueue({ url: `${API}/a`, body: 'x' });
    await outbox.enqueue({ url: `${PAGE}/b`, body: 'y' });
    await outbox.flush();
    expect(f.posts).toEqual([`${PAGE}/b`]);
    expect(seen('offline')).toHaveLength(0);
  });
});

describe('Outbox network errors that are no CORS refusal', () => {
  it('a host that does not answer the probe either: a network error as before (offline, no ERR_CORS)', async () => {
    f.up = false;
    const { outbox, seen } = await open();
    await outbox.enqueue({ url: `${API}/a`, body: 'x' });
    await outbox.flush();
    expect(f.probes).toHaveLength(1);
    expect(seen('error')).toHaveLength(0);
    expect((seen('retry') as { error: string }[])[0]!.error).toBe('Failed to fetch');
    expect(seen('offline')).toHaveLength(1);
  });

  it("a probe with no answer within the attempt's time limit: the attempt timed out, no ERR_CORS, nothing offline", async () => {
    f.silentProbe = true;
    const { outbox, seen } = await open({ timeoutMs: 2000 });
    await outbox.enqueue({ url: `${API}/a`, body: 'x' });
    const flushed = outbox.flush();
    await io();
    await pass(clock, 2500);
    await flushed;
    expect(f.probes).toHaveLength(1);
    expect(seen('error')).toHaveLength(0);
    expect((seen('retry') as { error: string }[])[0]!.error).toMatch(/^No response within 2000 ms/);
    expect(seen('offline')).toHaveLength(0);
  });

  it("a task to the page's own origin, or in mode 'no-cors' or 'same-origin', is never probed", async () => {
    f.up = false;
    const { outbox, seen } = await open();
    await outbox.enqueue({ url: `${PAGE}/a`, body: 'x' });
    await outbox.enqueue({ url: `${API}/b`, body: 'y', mode: 'same-origin' });
    await outbox.flush();
    expect(f.probes).toHaveLength(0);
    expect(seen('error')).toHaveLength(0);
  });

  it('where there is no location (Node), nothing is probed: no CORS there', async () => {
    vi.unstubAllGlobals();
    const { outbox, seen } = await open();
    await outbox.enqueue({ url: `${API}/a`, body: 'x' });
    await outbox.flush();
    expect(f.probes).toHaveLength(0);
    expect(seen('offline')).toHaveLength(1);
  });
});

describe('the ERR_CORS message and `idempotencyHeader`', () => {
  async function refusal(extra: Partial<OutboxOptions>, task: Parameters<Outbox['enqueue']>[0]): Promise<string> {
    const { outbox, seen } = await open(extra);
    await outbox.enqueue(task);
    await outbox.flush();
    return (seen('error') as { error: SluiceError }[])[0]!.error.message;
  }

  it('names the configured header among what Access-Control-Allow-Headers must allow', async () => {
    const message = await refusal({ idempotencyHeader: 'x-request-id' }, { url: `${API}/notes`, body: { a: 1 } });
    expect(message).toContain('`Access-Control-Allow-Headers: X-Request-Id, Content-Type`');
    expect(message).not.toContain('Idempotency-Key');
  });

  it('with false, names no key; a request with only CORS-safelisted headers needs no preflight', async () => {
    const plain = await refusal({ idempotencyHeader: false }, { url: `${API}/log`, body: 'hello', headers: { 'Content-Type': 'text/plain', Accept: 'application/json' } });
    expect(plain).toContain(`Access-Control-Allow-Origin: ${PAGE}`);
    expect(plain).not.toContain('Access-Control-Allow-Headers');
    expect(plain).not.toContain('preflight (OPTIONS)');
    expect(plain).toContain('needs no preflight');
    const json = await refusal({ idempotencyHeader: false }, { url: `${API}/log`, body: { a: 1 } });
    expect(json).toContain('its answer to the preflight (OPTIONS) `Access-Control-Allow-Headers: Content-Type`.');
    const put = await refusal({ idempotencyHeader: false }, { url: `${API}/log`, method: 'PUT', body: 'x' });
    expect(put).toContain('its answer to the preflight (OPTIONS) `Access-Control-Allow-Methods: PUT`.');
    expect(put).not.toContain('Access-Control-Allow-Headers');
  });

  it('with false or another name, an Idempotency-Key the app set is a header the preflight must allow', async () => {
    const message = await refusal({ idempotencyHeader: false }, { url: `${API}/log`, body: 'x', headers: { 'Idempotency-Key': 'apps' } });
    expect(message).toContain('`Access-Control-Allow-Headers: Idempotency-Key`');
    const named = await refusal({ idempotencyHeader: 'X-Request-Id' }, { url: `${API}/log`, body: 'x', headers: { 'Idempotency-Key': 'apps' } });
    expect(named).toContain('`Access-Control-Allow-Headers: X-Request-Id, Idempotency-Key`');
  });
});
