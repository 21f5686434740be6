// `idempotencyHeader`: the header each request carries its task id in. An API on another origin whose CORS answer does
// not allow `Idempotency-Key` (and cannot be changed) fails every preflight, as if offline: such an API needs another
// name, or none.
import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';
import type { OutboxOptions } from '../../src/outbox/options.js';

interface Sent {
  path: string;
  headers: Record<string, string>;
  keepalive: boolean;
}

async function outboxWith(options: Partial<OutboxOptions>) {
  const sent: Sent[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    // A live request (`outbox.fetch`) comes as a Request, its headers given again beside it.
    const url = input instanceof Request ? input.url : String(input);
    sent.push({ path: new URL(url).pathname, headers: Object.fromEntries(new Headers(init?.headers)), keepalive: init?.keepalive === true });
    return new Response('ok');
  };
  const outbox = await Outbox.open({ name: 'keys', store: new MemoryStore(), baseUrl: 'https://api.test/', fetch, ...options });
  return { outbox, sent };
}

describe('idempotencyHeader', () => {
  it("'X-Request-Id': stored tasks, batches and live requests carry the id under that name, and no Idempotency-Key", async () => {
    const { outbox, sent } = await outboxWith({ idempotencyHeader: 'X-Request-Id' });
    const [id] = await outbox.enqueueMany([{ url: 'one', id: 'k-1' }]);
    await outbox.flush();
    await outbox.fetch('https://api.test/live', { method: 'POST', body: 'x' });
    await outbox.close();
    const batched = await outboxWith({ idempotencyHeader: 'X-Request-Id', batch: { url: 'batch' } });
    await batched.outbox.enqueueMany([{ url: 'a', body: { n: 1 } }, { url: 'b', body: { n: 2 } }]);
    await batched.outbox.flush();
    await batched.outbox.close();
    expect(id).toBe('k-1');
    expect(sent.map((s) => [s.path, s.headers['x-request-id']])).toEqual([
      ['/one', 'k-1'],
      ['/live', expect.stringMatching(/^[\w-]{16,}$/)],
    ]);
    expect(batched.sent).toHaveLength(1);
    expect(batched.sent[0]!.headers['x-request-id']).toMatch(/^batch-2-[0-9a-f]{32}$/);
    for (const request of [...sent, ...batched.sent]) expect(request.headers['idempotency-key']).toBeUndefined();
  });

  it("'X-Request-Id': a task may not set it (the id is the key); a Request's becomes the id; its own Idempotency-Key goes as given", async () => {
    const { outbox, sent } = await outboxWith({ idempotencyHeader: 'X-Request-Id' });
    await expect(outbox.enqueue({ url: 'x', headers: { 'x-request-ID': 'mine' } })).rejects.toMatchObject({
      code: 'ERR_INVALID_TASK',
      message: expect.stringContaining('every request carries the task id as its x-request-ID'),
    });
    const id = await outbox.enqueue(new Request('https://api.test/r', { method: 'POST', headers: { 'X-Request-Id': 'from-request' } }));
    await outbox.enqueue({ url: 'own', headers: { 'Idempotency-Key': 'theirs' } });
    await outbox.flush();
    await outbox.close();
    expect(id).toBe('from-request');
    expect(sent.map((s) => [s.path, s.headers['x-request-id'], s.headers['idempotency-key']])).toEqual([
      ['/r', 'from-request', undefined],
      ['/own', expect.stringMatching(/^[\w-]{16,}$/), 'theirs'],
    ]);
  });

  it('false: no request carries a key, stored, batched, live or sent as the page hides; a task may send an Idempotency-Key of its own', async () => {
    const page = Object.assign(new EventTarget(), { onpagehide: null });
    const { outbox, sent } = await outboxWith({ idempotencyHeader: false, ordering: 'none', page });
    await outbox.enqueue({ url: 'stored' });
    await outbox.flush();
    await outbox.fetch('https://api.test/live', { method: 'POST', body: 'x', headers: { 'Idempotency-Key': 'plain' } });
    await outbox.enqueue({ url: 'hidden' });
    page.dispatchEvent(new Event('pagehide'));
    await outbox.close();
    const batched = await outboxWith({ idempotencyHeader: false, batch: { url: 'batch' } });
    await batched.outbox.enqueueMany([{ url: 'a', body: { n: 1 } }, { url: 'b', body: { n: 2 }, headers: { 'Idempotency-Key': 'own' } }]);
    await batched.outbox.flush();
    await batched.outbox.close();
    expect(sent.map((s) => [s.path, s.keepalive, s.headers['idempotency-key']])).toEqual([
      ['/stored', false, undefined],
      // A Request's Idempotency-Key is a header like any other then, sent as given.
      ['/live', false, 'plain'],
      ['/hidden', true, undefined],
    ]);
    // A task with headers of its own goes alone: the batch holds the other.
    expect(batched.sent.map((s) => [s.path, s.headers['idempotency-key']])).toEqual([
      ['/batch', undefined],
      ['/b', 'own'],
    ]);
  });

  it('refuses what cannot name a header, or one fetch or the body sets, as ERR_INVALID_OPTION', async () => {
    for (const idempotencyHeader of ['', 'X Request', 'Content-Length', 'content-type', 'Transfer-Encoding', true, null, 5, ['X-Id']]) {
      await expect(Outbox.open({ name: 'bad', store: new MemoryStore(), idempotencyHeader: idempotencyHeader as string })).rejects.toMatchObject({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringContaining('`idempotencyHeader` to be a header name'),
      });
    }
  });
});
