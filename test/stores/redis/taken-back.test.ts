import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, it } from 'vitest';
import { Outbox } from '../../../src/index.js';
import { RedisStore } from '../../../src/redis.js';
import { describeRedis } from '../../support/redis-suite.js';

// A process judged gone while alive must not commit, when it comes back, acks that remove what another process took
// back meanwhile. Both processes are real ones (SIGSTOP cannot stop part of this one) that import the built package:
// SLUICE_TEST_DIST points them at another build (an older one, to see this test fail there).
beforeAll(() => {
  if (!existsSync('dist/index.js') || !existsSync('dist/redis.js')) execSync('npm run build', { stdio: 'ignore' });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const child = fileURLToPath(new URL('./taken-back-child.mjs', import.meta.url));

/** A delivering process of its own, and what it wrote on stderr (said when the test fails). */
function deliverer(options: { who: string; url: string; prefix: string; baseUrl: string }) {
  const started = { stderr: '', process: spawn(process.execPath, [child, JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'pipe'] }) };
  started.process.stderr.on('data', (data: Buffer) => (started.stderr += String(data)));
  return started;
}

describeRedis('RedisStore: what another process took back', (server) => {
  it("is left to it by a process judged gone that comes back with acks held: the group's last 2xx stay in its order", async () => {
    // A sends t0..t4 of one group; its request for t4 stops it (SIGSTOP) with the acks of the tasks before still held
    // in its ack batcher. B, started only then, waits out ownerTtlMs, judges A gone, and takes the group back from
    // t0; its request for t0 resumes A (SIGCONT) and is answered only 1.5 s later. A's stop outlasts its timeoutMs, so
    // A comes back to a timed-out request and to the acks it held: were those to remove what B holds, A would send the
    // rest of the group while B's t0 is still out, and t0's last 2xx would come after later tasks'.
    const answered: string[] = [];
    const children: ReturnType<typeof deliverer>[] = [];
    let a: ChildProcess | undefined;
    // Every wait is bounded, under the test's timeout, so that a stuck run fails here and still cleans up.
    const deadline = Date.now() + 25_000;
    const until = async (what: string, done: () => boolean | Promise<boolean>) => {
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`no ${what} in time${children.map((c) => `\n${c.stderr}`).join('')}`);
        await sleep(20);
      }
    };
    let stopped = false;
    let held: 'not yet' | 'out' | 'answered' = 'not yet';
    const http = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['idempotency-key']);
        const answer = (ms: number, then?: () => void) =>
          setTimeout(() => {
            res.end('ok');
            answered.push(key);
            then?.();
          }, ms);
        if (req.headers['x-by'] === 'a' && key === 't4' && !stopped) {
          stopped = true;
          a!.kill('SIGSTOP');
          return answer(20);
        }
        if (req.headers['x-by'] === 'b' && held === 'not yet') {
          held = 'out';
          setTimeout(() => a!.kill('SIGCONT'), 100);
          return answer(1500, () => (held = 'answered'));
        }
        answer(0);
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const options = { url: server().url, prefix: 'back:', baseUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
    const store = new RedisStore({ url: options.url, prefix: options.prefix, ownerTtlMs: 1500, onWarning: () => undefined });
    const outbox = await Outbox.open({ name: 'o', store, baseUrl: options.baseUrl });
    try {
      await outbox.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ url: '/hook', id: `t${i}`, group: 'g', body: { i } })));
      children.push(deliverer({ who: 'a', ...options }));
      a = children[0]!.process;
      await until('request for t4 from A', () => stopped);
      children.push(deliverer({ who: 'b', ...options }));
      await until('empty outbox after B was answered', async () => held === 'answered' && (await outbox.size()) === 0);
      // The tasks in the order of their last 2xx (a task sent again counts where it was last answered).
      const byLast = [...new Set([...answered].reverse())].reverse();
      expect(byLast).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    } finally {
      const exits = children.map(({ process: p }) => p.exitCode === null && p.signalCode === null && new Promise((resolve) => p.once('exit', resolve)));
      for (const { process: p } of children) p.kill('SIGKILL');
      await Promise.all(exits);
      await outbox.close();
      await store.close();
      http.closeAllConnections();
      http.close();
    }
  });
}, { args: ['--appendonly', 'no'] });
