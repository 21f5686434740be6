// A JSON body nested near the queues' limit (512 levels) is taken at enqueue; every way out of the outbox must work
// for it: sent, or moved to dead (refused by the server, superseded, evicted, skipped), never stuck pending.
import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';

function nested(levels: number): unknown[] {
  let body: unknown[] = [0];
  for (let i = 1; i < levels; i++) body = [body];
  return body;
}

describe('a deeply nested JSON body', () => {
  it('goes to dead when the server refuses it, and the task behind it is delivered', async () => {
    const urls: string[] = [];
    const outbox = await Outbox.open({
      name: 'deep',
      store: new MemoryStore(),
      fetch: async (input) => {
        urls.push(String(input));
        return new Response('', { status: String(input).endsWith('/deep') ? 400 : 200 });
      },
    });
    const errors: unknown[] = [];
    outbox.addEventListener('error', (e) => errors.push(e.detail.error));
    for (const levels of [509, 510, 511, 600]) await outbox.enqueue({ url: 'https://x.test/deep', body: nested(levels) });
    await outbox.enqueue({ url: 'https://x.test/next', body: { ok: true } });
    const result = await outbox.flush();
    expect(errors).toEqual([]);
    expect(result).toMatchObject({ sent: 1, dead: 4, remaining: 0 });
    expect(urls.at(-1)).toBe('https://x.test/next');
    expect((await outbox.dead.list()).length).toBe(4);
    await outbox.close();
  });

  it('is sent as the JSON it is, and can be superseded or evicted', async () => {
    const bodies: string[] = [];
    const outbox = await Outbox.open({
      name: 'deep-sent',
      store: new MemoryStore(),
      limits: { maxTasks: 2, overflow: 'drop-oldest' },
      fetch: async (input, init) => {
        bodies.push(await new Request(input, init).text());
        return new Response('ok');
      },
    });
    const later = Date.now() + 60_000;
    await outbox.enqueue({ url: 'https://x.test/a', body: nested(510), key: 'k', notBefore: later });
    await outbox.enqueue({ url: 'https://x.test/b', body: nested(510), key: 'k', notBefore: later }); // supersedes a
    await outbox.enqueue({ url: 'https://x.test/c', body: nested(510) });
    await outbox.enqueue({ url: 'https://x.test/d', body: nested(510) }); // evicts b
    expect(await outbox.size()).toBe(2);
    expect((await outbox.dead.list()).map((letter) => letter.reason).sort()).toEqual(['evicted', 'superseded']);
    await outbox.flush();
    expect(bodies).toEqual([JSON.stringify(nested(510)), JSON.stringify(nested(510))]);
    await outbox.close();
  });
});

describe('a deeply nested JSON body given by onBeforeSend', () => {
  it('is sent as it is: only a body stored with its task goes beside it', async () => {
    const bodies: string[] = [];
    const outbox = await Outbox.open({
      name: 'deep-edit',
      store: new MemoryStore(),
      onBeforeSend: (task) => ({ ...task, body: nested(520) }),
      fetch: async (input, init) => {
        bodies.push(await new Request(input, init).text());
        return new Response('ok');
      },
    });
    await outbox.enqueue({ url: 'https://x.test/a', body: { a: 1 } });
    expect(await outbox.flush()).toMatchObject({ sent: 1, dead: 0 });
    expect(bodies).toEqual([JSON.stringify(nested(520))]);
    await outbox.close();
  });
});

describe('a JSON body nested up to the depth kept inside its task (500), and past it', () => {
  it('goes to dead when the server refuses it: the dead letter around it fits the codec', async () => {
    const outbox = await Outbox.open({ name: 'deep-edge', store: new MemoryStore(), fetch: async () => new Response('', { status: 400 }) });
    const errors: unknown[] = [];
    outbox.addEventListener('error', (e) => errors.push(e.detail.error));
    for (const levels of [300, 499, 500, 501, 509]) await outbox.enqueue({ url: 'https://x.test/deep', body: nested(levels) });
    expect(await outbox.flush()).toMatchObject({ dead: 5, remaining: 0 });
    expect(errors).toEqual([]);
    await outbox.close();
  });
});
