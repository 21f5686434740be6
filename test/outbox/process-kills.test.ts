import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeRedis } from '../support/redis-suite.js';

// Real SIGKILLs of real processes enqueuing and delivering one outbox, against a server that fails, resets and
// stalls; the children import the built package. `npm run stress:outbox` runs the same for longer.
beforeAll(() => {
  if (!existsSync('dist/fs.js') || !existsSync('dist/redis.js')) execSync('npm run build', { stdio: 'ignore' });
});

async function crashTest(options: { kills: number; ordering: 'group' | 'none'; redisUrl?: string }): Promise<void> {
  // @ts-expect-error a plain ES module without types
  const { crashTest: run } = await import('../stress/outbox-crash.mjs');
  const result = (await run(options)) as { kills: number; enqueued: number; delivered: number };
  expect(result.kills).toBeGreaterThanOrEqual(options.kills);
  expect(result.enqueued).toBeGreaterThan(0);
  expect(result.delivered).toBeGreaterThanOrEqual(result.enqueued);
}

describe('an outbox on a FileStore whose processes are killed', () => {
  for (const ordering of ['group', 'none'] as const) {
    it(`loses nothing, sends nothing to dead and nothing again after its ack (ordering: '${ordering}')`, () => crashTest({ kills: 8, ordering }), 120_000);
  }
});

describeRedis('an outbox on a RedisStore whose processes are killed', (server) => {
  for (const ordering of ['group', 'none'] as const) {
    it(`loses nothing, sends nothing to dead and nothing again after its ack (ordering: '${ordering}')`, () => crashTest({ kills: 6, ordering, redisUrl: server().url }), 120_000);
  }
});
