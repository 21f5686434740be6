// Where the three browser engines the browser suites run in are on this machine, and, for one that is not, why.
// Every browser suite (web-test-runner, the end-to-end tests, the benchmark) finds its engines here.
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** True when a missing engine must fail the run (CI sets this after installing all three). */
export const browserRequired = process.env.SLUICE_REQUIRE_BROWSER === '1';

/** How every suite launches Chromium: headless-friendly, and without the background traffic a closed network refuses. */
export const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const onPath = (name) => (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)).find((path) => existsSync(path));
const firstExisting = (paths) => paths.find((path) => path && existsSync(path));

// Debian puts MiniBrowser under the multiarch directory of the webkit2gtk API version it was built for.
function findMiniBrowser() {
  if (process.env.MINIBROWSER_PATH) return firstExisting([process.env.MINIBROWSER_PATH]);
  for (const lib of ['/usr/lib', '/usr/libexec']) {
    const arches = existsSync(lib) ? readdirSync(lib).filter((dir) => dir.endsWith('-linux-gnu')) : [];
    const found = firstExisting(arches.flatMap((arch) => ['4.1', '4.0', '6.0'].map((api) => join(lib, arch, `webkit2gtk-${api}`, 'MiniBrowser'))));
    if (found) return found;
  }
  return undefined;
}

/**
 * @typedef {{ name: 'chromium' | 'firefox' | 'webkit', label: string, executablePath: string, driverPath?: string, xvfb?: boolean }} Engine
 * @typedef {{ name: 'chromium' | 'firefox' | 'webkit', label: string, missing: string }} MissingEngine
 */

/** @returns {Engine | MissingEngine} */
function chromium() {
  const looked = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
  const executablePath = firstExisting(looked);
  if (executablePath) return { name: 'chromium', label: 'Chromium', executablePath };
  return {
    name: 'chromium',
    label: 'Chromium',
    missing: `no Chromium found (looked at CHROME_PATH, ${looked.slice(1).join(', ')}); install it (apt-get install -y chromium) or set CHROME_PATH`,
  };
}

/** @returns {Engine | MissingEngine} */
function firefox() {
  const looked = [process.env.FIREFOX_PATH, '/usr/bin/firefox-esr', '/usr/bin/firefox'];
  const executablePath = firstExisting(looked);
  if (executablePath) return { name: 'firefox', label: 'Firefox', executablePath };
  return {
    name: 'firefox',
    label: 'Firefox',
    missing: `no Firefox found (looked at FIREFOX_PATH, ${looked.slice(1).join(', ')}); install it (apt-get install -y firefox-esr) or set FIREFOX_PATH`,
  };
}

/** @returns {Engine | MissingEngine} */
function webkit() {
  const label = 'WebKit';
  const driverPath = process.env.WEBKIT_WEBDRIVER_PATH ? firstExisting([process.env.WEBKIT_WEBDRIVER_PATH]) : onPath('WebKitWebDriver');
  if (!driverPath) return { name: 'webkit', label, missing: 'no WebKitWebDriver on PATH; install it (apt-get install -y webkit2gtk-driver) or set WEBKIT_WEBDRIVER_PATH' };
  const executablePath = findMiniBrowser();
  if (!executablePath) return { name: 'webkit', label, missing: 'no MiniBrowser found under /usr/lib/*-linux-gnu/webkit2gtk-*; install it (apt-get install -y webkit2gtk-driver) or set MINIBROWSER_PATH' };
  // MiniBrowser has no headless mode: it needs an X display, ours or one xvfb-run makes.
  if (process.env.DISPLAY) return { name: 'webkit', label, executablePath, driverPath, xvfb: false };
  if (onPath('xvfb-run')) return { name: 'webkit', label, executablePath, driverPath, xvfb: true };
  return { name: 'webkit', label, missing: 'MiniBrowser needs a display: DISPLAY is unset and there is no xvfb-run; install it (apt-get install -y xvfb)' };
}

const finders = { chromium, firefox, webkit };

/** The engines to run, in a fixed order; SLUICE_ENGINES (comma-separated names) narrows them. */
export const engineNames = (process.env.SLUICE_ENGINES ?? 'chromium,firefox,webkit')
  .split(',')
  .map((name) => name.trim())
  .filter((name) => {
    if (name in finders) return true;
    throw new Error(`SLUICE_ENGINES: unknown engine "${name}"; expected some of chromium, firefox, webkit.`);
  });

/** Each engine asked for: where it is, or why it is missing. */
export function findEngines() {
  return engineNames.map((name) => finders[name]());
}

/** One engine by name: where it is, or why it is missing. */
export function findEngine(name) {
  return finders[name]();
}

/** The words said, loudly, when a suite cannot run in an engine. */
export function skipNotice(suite, engine) {
  return `\n*** SKIPPED: ${suite} did not run in ${engine.label}: ${engine.missing}. ***\n`;
}
