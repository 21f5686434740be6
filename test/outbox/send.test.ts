import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox, type ResponseLike } from '../../src/index.js';

/** An answer with only what `ResponseLike` names: headers it cannot list, a body read whole. */
const like = (status: number, body: string, headers: Record<string, string> = {}): ResponseLike => ({
  status,
  headers: { get: (name) => headers[name.toLowerCase()] ?? null },
  arrayBuffer: async () => new TextEncoder().encode(body).buffer as ArrayBuffer,
});

describe('a transport that answers with something like a Response', () => {
  it('is a Response to classify and to the sent event: ok, statusText, headers.has and json() are there', async () => {
    const seen: unknown[] = [];
    const outbox = await Outbox.open({
      name: 'api',
      store: new MemoryStore(),
      fetch: async () => like(201, '{"stored":true}', { 'x-request-id': 'r1' }),
      // README's recipe: a 409 (a duplicate the server already has) is sent too.
      classify: (outcome) => (outcome instanceof Error ? 'retry' : outcome.ok || outcome.status === 409 ? 'sent' : 'dead'),
    });
    outbox.addEventListener('sent', (event) => void seen.push(event.detail.response));
    await outbox.enqueue({ url: 'https://api.example.test/notes', body: { n: 1 } });
    expect(await outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
    const [response] = seen as Response[];
    expect(response).toBeInstanceOf(Response);
    expect([response!.ok, response!.status, response!.headers.get('X-Request-Id'), response!.headers.has('x-request-id')]).toEqual([true, 201, 'r1', true]);
    expect(await response!.json()).toEqual({ stored: true });
    await outbox.close();
  });

  it('is a Response to the caller of outbox.fetch, its headers listed where the answer lists them', async () => {
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), fetch: async () => ({ ...like(200, 'hi'), statusText: 'Fine', headers: new Headers({ 'content-type': 'text/plain' }) }) });
    const response = await outbox.fetch('https://api.example.test/x', { method: 'POST', body: 'x' });
    expect(response).toBeInstanceOf(Response);
    expect([response.ok, response.statusText, [...response.headers]]).toEqual([true, 'Fine', [['content-type', 'text/plain']]]);
    expect(await response.text()).toBe('hi');
    await outbox.close();
  });

  it("with ok and text (a Response of another fetch: undici's from npm) goes as it came: an endless body is cut at 8 MiB, the task sent", async () => {
    const endless = new ReadableStream<Uint8Array>({ pull: (controller) => controller.enqueue(new Uint8Array(65_536)) });
    const other = { status: 200, ok: true, statusText: 'OK', headers: new Headers(), body: endless, text: async () => '', arrayBuffer: () => new Promise<ArrayBuffer>(() => undefined) };
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), timeoutMs: 5_000, fetch: async () => other });
    await outbox.enqueue({ url: 'https://api.example.test/notes', body: { n: 1 } });
    expect(await outbox.flush()).toMatchObject({ sent: 1, retried: 0 });
    await outbox.close();
  });

  it('whose body the outbox lets go (a 503) is never read', async () => {
    let reads = 0;
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), fetch: async () => ({ ...like(503, 'busy'), arrayBuffer: async () => (reads++, new ArrayBuffer(4)) }) });
    await outbox.enqueue({ url: 'https://api.example.test/notes', body: { n: 1 } });
    expect(await outbox.flush()).toMatchObject({ retried: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(reads).toBe(0);
    await outbox.close();
  });

  it('with a header no Headers may hold (a value beyond Latin-1) goes as it came: the answer is judged, not taken for a network failure', async () => {
    const odd = { ...like(200, ''), headers: { get: (name: string) => (name === 'x-price' ? '5 €' : null), forEach: (each: (value: string, name: string) => void) => each('5 €', 'x-price') } };
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), fetch: async () => odd });
    await outbox.enqueue({ url: 'https://api.example.test/notes', body: { n: 1 } });
    expect(await outbox.flush()).toMatchObject({ sent: 1, retried: 0 });
    expect(outbox.online).toBe(true);
    await outbox.close();
  });

  it('with a reason phrase no Response may have (beyond Latin-1), is a Response without it, not a failed request', async () => {
    const outbox = await Outbox.open({ name: 'api', store: new MemoryStore(), fetch: async () => ({ ...like(201, '{}'), statusText: 'Создано' }) });
    await outbox.enqueue({ url: 'https://api.example.test/notes', body: { n: 1 } });
    expect(await outbox.flush()).toMatchObject({ sent: 1, retried: 0 });
    const response = await outbox.fetch('https://api.example.test/x', { method: 'POST', body: 'x' });
    expect([response.status, response.statusText]).toEqual([201, '']);
    await outbox.close();
  });
});
