// A live request's time limit and the caller's abort reach the request through a signal that fetch may hold weakly:
// one that a collection took ended nothing, and the request stayed out (its socket open, the process kept alive after
// close) until undici's own 300 s limit.
import { createServer, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect, it } from 'vitest';
import { Outbox } from '../../src/index.node.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
});

/** A server that takes requests and never answers; `open()` counts the connections still open. */
async function silentServer(): Promise<{ base: string; open: () => number; arrived: Promise<void> }> {
  let open = 0;
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  server = createServer((request) => {
    open++;
    request.resume();
    request.socket.on('close', () => open--);
    arrive();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { base: `http://127.0.0.1:${port}`, open: () => open, arrived };
}

const closedWithin = async (open: () => number, ms: number) => {
  for (const end = Date.now() + ms; open() > 0 && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 50));
  return open();
};

it('ends the request at timeoutMs, a collection having run while it was out: stored (202), its connection closed', async () => {
  const { base, open, arrived } = await silentServer();
  const outbox = await Outbox.open({ name: 'live', store: new MemoryStore(), baseUrl: base, timeoutMs: 400 });
  const answered = outbox.fetch(`${base}/x`, { method: 'POST', body: 'x' });
  await arrived;
  for (let i = 0; i < 3; i++) gc();
  expect((await answered).status).toBe(202);
  await outbox.close();
  expect(await closedWithin(open, 3_000)).toBe(0);
});

it("ends the request at the caller's abort, a collection having run while it was out: its connection closed", async () => {
  const { base, open, arrived } = await silentServer();
  const outbox = await Outbox.open({ name: 'live', store: new MemoryStore(), baseUrl: base, timeoutMs: 60_000 });
  const caller = new AbortController();
  const answered = outbox.fetch(`${base}/x`, { method: 'POST', body: 'x', signal: caller.signal });
  await arrived;
  for (let i = 0; i < 3; i++) gc();
  caller.abort();
  await expect(answered).rejects.toMatchObject({ name: 'AbortError' });
  expect(await outbox.size()).toBe(0);
  expect(await closedWithin(open, 3_000)).toBe(0);
  await outbox.close();
});
