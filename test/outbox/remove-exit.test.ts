import { execSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { Outbox } from '../../src/index.js';
import { FileStore } from '../../src/fs.js';

// A script whose last work is `remove` of a task another process has in hand: the wait for that process's answer must
// keep the script alive until it settles. The child imports the built package, as a user's script would.

let dir: string;
beforeAll(() => {
  if (!existsSync('dist/index.node.js') || !existsSync('dist/fs.js')) execSync('npm run build', { stdio: 'ignore' });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('remove() settles in a script with nothing else to keep it alive, while another process holds the task', async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-remove-exit-'));
  let inFlight!: () => void;
  const taken = new Promise<void>((done) => (inFlight = done));
  const holder = await Outbox.open({
    name: 'ob',
    store: new FileStore({ dir }),
    baseUrl: 'http://example.test',
    ordering: 'none',
    fetch: async () => {
      inFlight();
      await new Promise((wait) => setTimeout(wait, 1500));
      return new Response('', { status: 200 });
    },
  });
  try {
    await holder.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ url: '/x', id: `X${i}`, body: {} })));
    const flushing = holder.flush();
    await taken;
    const script = `
      import { Outbox } from ${JSON.stringify(resolve('dist/index.node.js'))};
      import { FileStore } from ${JSON.stringify(resolve('dist/fs.js'))};
      const outbox = await Outbox.open({ name: 'ob', store: new FileStore({ dir: ${JSON.stringify(dir)} }), baseUrl: 'http://example.test' });
      console.log('removed', await outbox.remove(['X1']));
      await outbox.close();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    const code = await new Promise((end) => child.on('close', end));
    // Without the wait's timer keeping it alive: exit 13, an unsettled top-level await, and nothing printed.
    expect({ code, out }).toMatchObject({ code: 0, out: expect.stringMatching(/^removed [01]\n$/) });
    await flushing;
  } finally {
    await holder.close();
  }
}, 30_000);
