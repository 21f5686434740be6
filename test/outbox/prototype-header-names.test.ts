// Header names that are also Object.prototype's (`__proto__`, `constructor`: both HTTP tokens) are headers like any
// other: neither refused as given twice, nor swallowed by the `__proto__` setter on their way to the transport.
import { describe, expect, it } from 'vitest';
import { MemoryStore, Outbox } from '../../src/index.js';

/** The headers named so, in what the transport is handed. */
const named = (init: RequestInit | undefined) => Object.entries(init?.headers as Record<string, string>).filter(([name]) => name === '__proto__' || name === 'constructor');

describe('a header named like a member of Object.prototype', () => {
  it('is stored and handed to the transport, from a task, a Request and headers()', async () => {
    const sent: [string, string][][] = [];
    const outbox = await Outbox.open({
      name: 'proto',
      store: new MemoryStore(),
      baseUrl: 'https://x.test',
      headers: () => JSON.parse('{"__proto__": "per-send"}') as Record<string, string>,
      fetch: async (_input, init) => {
        sent.push(named(init));
        return new Response('ok');
      },
    });
    await outbox.enqueue({ url: '/a', body: 'x', headers: { constructor: 'c' } });
    await outbox.enqueue({ url: '/b', body: 'x', headers: JSON.parse('{"__proto__": "p"}') as Record<string, string> });
    await outbox.enqueue(new Request('https://x.test/c', { method: 'POST', body: 'x', headers: [['constructor', 'r']] }));
    expect((await outbox.list()).length).toBe(3);
    await outbox.flush();
    const expected: Record<string, string>[] = [
      { constructor: 'c', ['__proto__']: 'per-send' },
      { ['__proto__']: 'per-send' },
      { constructor: 'r', ['__proto__']: 'per-send' },
    ];
    expect(sent.map((headers) => Object.fromEntries(headers))).toEqual(expected);
    await outbox.close();
  });

  it("keeps a Request's `__proto__` header", async () => {
    const sent: [string, string][][] = [];
    const outbox = await Outbox.open({
      name: 'proto-request',
      store: new MemoryStore(),
      fetch: async (_input, init) => {
        sent.push(named(init));
        return new Response('ok');
      },
    });
    await outbox.enqueue(new Request('https://x.test/c', { method: 'POST', body: 'x', headers: [['__proto__', 'v']] }));
    await outbox.flush();
    expect(sent).toEqual([[['__proto__', 'v']]]);
    await outbox.close();
  });
});

describe("the headers an app's own fetch is handed", () => {
  it("are a plain record, with Object's methods, a __proto__ header an own property of it", async () => {
    const seen: Record<string, string>[] = [];
    const outbox = await Outbox.open({
      name: 'plain-headers',
      store: new MemoryStore(),
      fetch: async (_input, init) => {
        seen.push(init?.headers as Record<string, string>);
        return new Response('ok');
      },
    });
    await outbox.enqueue({ url: 'https://x.test/a', body: 'x', headers: JSON.parse('{"__proto__": "p", "x-a": "1"}') as Record<string, string> });
    await outbox.flush();
    const [headers] = seen;
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(headers!.hasOwnProperty('x-a')).toBe(true);
    expect(Object.hasOwn(headers!, '__proto__') && headers!['__proto__']).toBe('p');
    await outbox.close();
  });
});
