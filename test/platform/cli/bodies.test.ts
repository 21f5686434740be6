// What `sluice drain` does with the bodies an outbox keeps beside its tasks: printed, and never deleted while
// another record (a dead letter and the task it was retried as) still names them.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { main } from '../../../src/platform/cli.js';
import { Outbox } from '../../../src/outbox/outbox.js';
import { outboxQueue } from '../../support/outbox-queue.js';

let dir: string;
let out: string[];
const io = { out: (line: string) => void out.push(line), err: () => undefined, progress: { isTTY: false as boolean, columns: 80, write: () => undefined } };
const run = (...args: string[]) => main([...args, '--dir', dir], io);
const store = () => new FileStore({ dir });
const blobFiles = (queue: string) => (existsSync(join(dir, queue, 'blobs')) ? readdirSync(join(dir, queue, 'blobs')) : []);
const photo = () => new Uint8Array(120_000).map((_, i) => (i * 7) % 251);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-bodies-'));
  out = [];
});

it('drain of the dead letters leaves a body that a pending task still names (a burial or dead.retry cut short: both name it)', async () => {
  const outbox = await Outbox.open({ name: 'api', store: store(), fetch: async () => new Response(null, { status: 400 }) });
  await outbox.enqueue({ url: 'https://api.example.test/photos', id: 'photo-1', body: new Blob([photo()]) });
  await outbox.flush();
  await outbox.close();
  expect(blobFiles('api')).toHaveLength(1);
  // The state a dead.retry() leaves when its task was stored but the letter's deletion failed (or a burial cut short:
  // letter written, task not yet removed): the letter and a pending task name the same body key.
  const dead = await Queue.open<{ task: unknown }>({ ...outboxQueue, name: 'api.dead', store: store() });
  const [letter] = await dead.list();
  await dead.close();
  const pending = await Queue.open<unknown>({ ...outboxQueue, name: 'api', store: store() });
  await pending.push(letter!.value.task);
  await pending.close();
  expect(await run('drain', 'api.dead')).toBe(0);
  // The outbox itself never deletes a body something still names (OrphanBodies.forget); the CLI does.
  expect(blobFiles('api')).toHaveLength(1);
  let sent: number | undefined;
  const again = await Outbox.open({ name: 'api', store: store(), fetch: async (_u, init) => ((sent = (await new Response(init?.body).arrayBuffer()).byteLength), new Response(null, { status: 200 })) });
  const run2 = await again.flush();
  await again.close();
  expect(run2).toMatchObject({ sent: 1, dead: 0 });
  expect(sent).toBe(120_000);
});
