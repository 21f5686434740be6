// Runs the browser suites in a real Chromium through web-test-runner, or says loudly why it cannot.
import { spawnSync } from 'node:child_process';
import { browserRequired, findChromium, skipNotice } from './find-chromium.mjs';

const chromium = findChromium();
if (!chromium) {
  console.error(skipNotice('the browser test suite (web-test-runner)'));
  if (browserRequired) {
    console.error('SLUICE_REQUIRE_BROWSER=1: a skipped browser suite fails the run.');
    process.exit(1);
  }
  process.exit(0);
}
const result = spawnSync('npx', ['web-test-runner', '--config', 'web-test-runner.config.mjs', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, CHROME_PATH: chromium },
});
process.exit(result.status ?? 1);
