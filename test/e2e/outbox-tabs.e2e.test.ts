import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ES modules without types
import { browserRequired, findChromium, skipNotice } from '../browser/find-chromium.mjs';

const chromium: string | undefined = findChromium();
if (!chromium) {
  console.warn(skipNotice('the outbox-across-handles check in Chromium (playwright-core)'));
  if (browserRequired) throw new Error('SLUICE_REQUIRE_BROWSER=1 and no Chromium: the browser suites cannot be skipped here.');
}

describe.skipIf(!chromium)('Outbox handles in Chromium', () => {
  it('one handle delivers (Web Locks), the other hears it (BroadcastChannel), a Request\'s bytes are kept, fetch() goes network first', () => {
    const script = new URL('./outbox-chromium-check.mjs', import.meta.url).pathname;
    const run = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, CHROME_PATH: chromium }, timeout: 60_000 });
    expect(run.stdout).toContain('chromium check: ok');
    expect(run.status).toBe(0);
  }, 90_000);
});
