import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

// Real SIGKILLs of real processes; the children import the built package.
describe('FileStore under SIGKILL', () => {
  beforeAll(() => {
    if (!existsSync('dist/fs.js')) execSync('npm run build', { stdio: 'ignore' });
  });

  it('a pusher and a consumer killed at random moments lose, double and corrupt nothing (relaxed)', async () => {
    // @ts-expect-error a plain ES module without types
    const { crashTest } = await import('../../stress/fs-crash.mjs');
    const result = await crashTest({ kills: 8, durability: 'relaxed' });
    expect(result.kills).toBeGreaterThanOrEqual(8);
    expect(result.pushed).toBeGreaterThan(0);
  }, 120_000);

  it('the same with durability "strict"', async () => {
    // @ts-expect-error a plain ES module without types
    const { crashTest } = await import('../../stress/fs-crash.mjs');
    const result = await crashTest({ kills: 4, durability: 'strict' });
    expect(result.pushed).toBeGreaterThan(0);
  }, 120_000);
});
