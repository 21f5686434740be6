import { existsSync } from 'node:fs';

/** Where a Chromium is on this machine (CHROME_PATH first, then the usual places), or undefined. */
export function findChromium() {
  const candidates = [
    process.env.CHROME_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  ];
  return candidates.find((path) => path && existsSync(path));
}

/** True when a missing browser must fail the run (CI sets this after installing Chromium). */
export const browserRequired = process.env.SLUICE_REQUIRE_BROWSER === '1';

/** The words said, loudly, when a browser suite cannot run. */
export function skipNotice(suite) {
  return (
    `\n*** SKIPPED: ${suite} did not run: no Chromium found (looked at CHROME_PATH, /usr/bin/chromium, ` +
    `/usr/bin/chromium-browser, /usr/bin/google-chrome). Install it (apt-get install -y chromium) or set CHROME_PATH. ***\n`
  );
}

/** How every suite launches Chromium: headless-friendly, and without the background traffic a closed network refuses. */
export const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
