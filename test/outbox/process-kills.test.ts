import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeRedis } from '../support/redis-suite.js';

// Real SIGKILLs of real processes enqueuing and delivering one outbox, against a server that fails, resets and
// stalls; the children import the built package. `npm run stress:outbox` runs the same for longer.
beforeAll(() => {
  if (!existsSync('dist/fs.js') || !existsSync('dist/redis.js')) execSync('npm run build', { stdio: 'ignore' });
});

async function crashTest(options: { kills: number; mode: 'group' | 'none' | 'batch'; redisUrl?: string }): Promise<void> {
  // @ts-expect-error a plain ES module without types
  const { crashTest: run } = await import('../stress/outbox-crash.mjs');
  const result = (await run(options)) as { kills: number; enqueued: number; delivered: number };
  expect(result.kills).toBeGreaterThanOrEqual(options.kills);
  expect(result.enqueued).toBeGreaterThan(0);
  expect(result.delivered).toBeGreaterThanOrEqual(result.enqueued);
}

describe('an outbox on a FileStore whose processes are killed', () => {
  for (const mode of ['group', 'none', 'batch'] as const) {
    it(`loses nothing, sends nothing to dead and nothing again after its ack ('${mode}')`, () => crashTest({ kills: 8, mode }), 120_000);
  }
});

describeRedis('an outbox on a RedisStore whose processes are killed', (server) => {
  for (const mode of ['group', 'none'] as const) {
    it(`loses nothing, sends nothing to dead and nothing again after its ack ('${mode}')`, () => crashTest({ kills: 6, mode, redisUrl: server().url }), 120_000);
  }
});
