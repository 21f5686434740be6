// One way to drive a page in each engine, so that each end-to-end scenario and the benchmark are written once.
import { launchChromium } from './chromium.mjs';
import { launchFirefox } from './firefox.mjs';
import { launchWebKit } from './webkit.mjs';

const launchers = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebKit };

/**
 * Launches `engine` (a found engine of engines.mjs). Its pages share one profile, so pages of one origin share
 * IndexedDB, Web Locks and BroadcastChannel, as tabs do.
 * @param {import('../engines.mjs').Engine} engine
 * @param {{ chromiumArgs?: string[], firefoxPrefs?: Record<string, unknown> }} [options] Chromium's flags added to the
 *   usual ones; Firefox's preferences set besides the usual ones
 */
export function launchBrowser(engine, options = {}) {
  return launchers[engine.name](engine, options);
}
