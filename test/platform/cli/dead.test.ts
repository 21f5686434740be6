import { expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { Outbox } from '../../../src/outbox/outbox.js';
import { main } from '../../../src/platform/cli.js';
import { cliSuite, exited } from './child.js';
import { outboxQueue } from '../../support/outbox-queue.js';

const cli = cliSuite('sluice-cli-dead-');
const store = () => new FileStore({ dir: cli.dir });

async function sizeOf(name: string): Promise<number> {
  const q = await Queue.open({ ...outboxQueue, name, store: store() });
  try {
    return await q.size();
  } finally {
    await q.close();
  }
}

it('Ctrl-C during a retry of many dead letters ends it after the step under way, saying how many it put back, and exits 130', { timeout: 60_000 }, async () => {
  const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
  await outbox.enqueueMany(Array.from({ length: 5_000 }, (_, i) => ({ url: 'https://api.example.test/a', body: { i } })));
  await outbox.flush();
  await outbox.close();
  const child = cli.sluice.cli(['dead', 'api', 'retry', '--json', '--dir', cli.dir]);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  const ended = exited(child);
  // Once the first step (1 000 letters) has put its tasks back.
  await expect.poll(() => sizeOf('api'), { timeout: 30_000, interval: 50 }).toBeGreaterThan(0);
  child.kill('SIGINT');
  const { code, stderr } = await ended;
  expect([code, stderr]).toEqual([130, '']);
  const said = JSON.parse(stdout) as { outbox: string; retried: number; stopped: string };
  expect(said).toMatchObject({ outbox: 'api', stopped: 'SIGINT' });
  // Whole steps only, each letter in one place: put back, or still dead.
  expect(said.retried % 1_000).toBe(0);
  expect(said.retried).toBeLessThan(5_000);
  expect([await sizeOf('api'), await sizeOf('api.dead')]).toEqual([said.retried, 5_000 - said.retried]);
});

it.each([
  ['retry', [], { retried: 1_000 }],
  ['purge --all', ['--all'], { purged: 1_000 }],
])('Ctrl-C during the last step of a %s stops nothing: it says all were moved, and exits 0', async (_, extra, said) => {
  const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
  await outbox.enqueueMany(Array.from({ length: 1_000 }, (_, i) => ({ url: 'https://api.example.test/a', body: { i } })));
  await outbox.flush();
  await outbox.close();
  const out: string[] = [];
  const action = extra.length > 0 ? 'purge' : 'retry';
  const moving = main(['dead', 'api', action, ...extra, '--json', '--dir', cli.dir], { out: (line) => void out.push(line), err: () => undefined });
  // Its one step (1 000 letters) under way: a retry's tasks put back, a purge's listener there.
  if (action === 'retry') await expect.poll(() => sizeOf('api'), { interval: 1 }).toBeGreaterThan(0);
  else await expect.poll(() => process.listenerCount('SIGINT'), { interval: 1 }).toBe(1);
  process.emit('SIGINT', 'SIGINT');
  expect(await moving).toBe(0);
  expect(out.map((line) => JSON.parse(line) as unknown)).toEqual([{ outbox: 'api', ...said }]);
  // Heard until the outbox closed, and no longer.
  expect(process.listenerCount('SIGINT')).toBe(0);
});
