import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue } from '../../src/index.js';
import { FileStore } from '../../src/fs.js';
import { main } from '../../src/platform/cli.js';
import { Outbox } from '../../src/outbox/outbox.js';

let dir: string;
let out: string[];
let err: string[];
const io = { out: (line: string) => void out.push(line), err: (line: string) => void err.push(line) };
const run = (...args: string[]) => main([...args, '--dir', dir], io);

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  out = [];
  err = [];
  const q = await Queue.open<{ n: number }>({ name: 'jobs', store: new FileStore({ dir }) });
  await q.pushMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  await q.take(1);
  await q.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice (the CLI)', () => {
  it('ls shows every queue with its counts', async () => {
    expect(await run('ls')).toBe(0);
    expect(out[0]).toBe('queue\tsize\tleased\tdelayed\tsegments\tbytes');
    expect(out[1]).toMatch(/^jobs\t3\t0\t0\t1\t\d+$/);
  });

  it('peek lists entries as JSON lines without leasing them', async () => {
    expect(await run('peek', 'jobs', '--limit', '2')).toBe(0);
    expect(out.map((l) => JSON.parse(l).value)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(JSON.parse(out[0]!).attempts).toBe(1);
  });

  it('drain prints and removes entries; clear removes the rest', async () => {
    expect(await run('drain', 'jobs', '--limit', '2')).toBe(0);
    expect(out.map((l) => JSON.parse(l).value.n)).toEqual([1, 2]);
    out = [];
    expect(await run('clear', 'jobs')).toBe(0);
    expect(out).toEqual(['Removed 1 entries from jobs.']);
    const q = await Queue.open({ name: 'jobs', store: new FileStore({ dir }) });
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it('dead lists, retries and purges an outbox\'s dead letters', async () => {
    const outbox = await Outbox.open({ name: 'api', store: new FileStore({ dir }), fetch: async () => new Response(null, { status: 400 }) });
    await outbox.enqueueMany([{ url: 'https://api.example.test/a', body: { a: 1 } }, { url: 'https://api.example.test/b' }]);
    await outbox.flush();
    await outbox.close();
    expect(await run('dead', 'api')).toBe(0);
    const letters = out.map((l) => JSON.parse(l));
    expect(letters.map((l) => [l.task.url, l.reason, l.status])).toEqual([
      ['https://api.example.test/a', 'status', 400],
      ['https://api.example.test/b', 'status', 400],
    ]);
    out = [];
    expect(await run('dead', 'api', 'retry', letters[0].id)).toBe(0);
    expect(out).toEqual(['Put 1 tasks back into api.']);
    out = [];
    expect(await run('dead', 'api', 'purge')).toBe(0);
    expect(out).toEqual(['Purged 1 dead letters of api.']);
    const again = await Outbox.open({ name: 'api', store: new FileStore({ dir }) });
    expect(await again.size()).toBe(1);
    expect(await again.dead.size()).toBe(0);
    await again.close();
  });

  it('says how to use it, with exit code 2, on a bad command or option', async () => {
    expect(await run('frobnicate')).toBe(2);
    expect(await run('peek')).toBe(2);
    expect(await run('peek', 'jobs', '--limit', 'x')).toBe(2);
    expect(err.join('\n')).toContain('Usage: sluice');
    expect(await main(['--help'], io)).toBe(0);
  });

  it('reports a bad queue name with its error code', async () => {
    expect(await run('peek', '../etc')).toBe(1);
    expect(err.at(-1)).toMatch(/^ERR_INVALID_NAME/);
  });
});
