// A method is checked as given: upper-casing first would make non-ASCII letters ASCII ('ſ' → 'S', 'ı' → 'I'), and a
// method fetch refuses would be sent as another.
import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';

describe('a task method that is not a token', () => {
  it('is refused at enqueue even where upper-casing would make it one', async () => {
    const sent: string[] = [];
    const outbox = await Outbox.open({
      name: 'methods',
      store: new MemoryStore(),
      baseUrl: 'https://x.test',
      fetch: async (_input, init) => {
        sent.push(String(init?.method));
        return new Response('ok');
      },
    });
    for (const method of ['poſt', 'optıons', 'ﬅ']) {
      expect(() => new Request('https://x.test/', { method })).toThrow();
      await expect(outbox.enqueue({ url: '/t', method })).rejects.toMatchObject({ code: 'ERR_INVALID_TASK', message: expect.stringContaining('`method`') });
    }
    expect(await outbox.size()).toBe(0);
    await outbox.enqueue({ url: '/t', method: 'put', body: 'x' });
    await outbox.flush();
    expect(sent).toEqual(['PUT']);
    await outbox.close();
  });
});
