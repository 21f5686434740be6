import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { built, kb, measure, root, rows } from '../../bench/bundle-size.mjs';

// The size check of `npm test`: each row with a limit, bundled as bench/size.mjs bundles it, stays within it.
// bench/bundle-size.mjs gives the limits and why they are above issue #9's budgets.

beforeAll(async () => {
  if (!built()) await promisify(execFile)(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root });
}, 300_000);

describe.concurrent('an app bundle for the browser, minified and gzipped', () => {
  for (const row of rows.filter((r) => r.limit !== undefined)) {
    it(`${row.name} stays within ${kb(row.limit!)}`, async () => {
      const size = await measure(row.source);
      expect(size.missing, row.source).toBeUndefined();
      expect(size.gzip, `${kb(size.gzip!)} gzipped`).toBeLessThanOrEqual(row.limit!);
    });
  }
});
