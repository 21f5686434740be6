// Firefox through puppeteer-core over WebDriver BiDi, on the Firefox ESR this machine has.
import puppeteer from 'puppeteer-core';

/**
 * @param {import('../engines.mjs').Engine} engine
 * @param {{ firefoxPrefs?: Record<string, unknown> }} options preferences set besides the usual ones
 */
export async function launchFirefox(engine, options = {}) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: engine.executablePath,
    headless: true,
    // Lets a BiDi script run in the browser's own (chrome) scope: the only way to take the whole browser offline.
    args: ['--remote-allow-system-access'],
    // Offline means offline for pages of http://localhost too (Firefox lets loopback through by default; even with
    // this, it lets 127.0.0.1 through, so a test that needs requests to fail offline serves its pages as localhost).
    extraPrefsFirefox: { 'network.disable-localhost-when-offline': true, ...options.firefoxPrefs },
    // A benchmark's page script may run for minutes (the default is 3).
    protocolTimeout: 1_800_000,
  });

  // Firefox's offline switch, as when the OS reports the network gone and back: every page and worker, service
  // workers included, gets `offline` / `online` events. (Page-level emulation does not reach service workers.)
  async function setOffline(offline) {
    const { result } = await browser.connection.send('browsingContext.getTree', { 'moz:scope': 'chrome' });
    const target = { context: result.contexts[0].context };
    await browser.connection.send('script.evaluate', { expression: `Services.io.offline = ${offline}`, target, awaitPromise: false });
  }

  return {
    async newPage(url) {
      // A window of its own, not a tab: Firefox runs the timers of a background tab at most once a second, which
      // would starve every page but the last one opened.
      const page = await browser.newPage({ type: 'window' });
      await page.goto(url);
      return {
        evaluate: (fn, arg) => page.evaluate(fn, arg),
        screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
        close: () => page.close(),
      };
    },
    setOffline,
    close: () => browser.close(),
  };
}
