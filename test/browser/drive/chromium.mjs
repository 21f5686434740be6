// Chromium through playwright-core (the Chrome DevTools Protocol), on the Chromium this machine has.
import { chromium } from 'playwright-core';
import { chromiumArgs } from '../engines.mjs';

/**
 * @param {import('../engines.mjs').Engine} engine
 * @param {{ chromiumArgs?: string[] }} options flags added to the usual ones
 */
export async function launchChromium(engine, options = {}) {
  const browser = await chromium.launch({ executablePath: engine.executablePath, args: [...chromiumArgs, ...(options.chromiumArgs ?? [])] });
  // One context: its pages share an origin's storage, as tabs of one profile do.
  const context = await browser.newContext();
  return {
    async newPage(url) {
      const page = await context.newPage();
      await page.goto(url);
      let session;
      return {
        evaluate: (fn, arg) => page.evaluate(fn, arg),
        screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
        close: () => page.close(),
        // The DevTools Protocol in the page's target (ServiceWorker.stopWorker, say): faults no web API makes.
        async cdp() {
          session ??= await context.newCDPSession(page);
          return session;
        },
      };
    },
    // Pages and workers of the context, service workers included (Background Sync waits for the network, too). Not
    // airtight: a page being closed runs on for a moment with the network back (it hears 'online', and its requests
    // reach the server), and the browser's own requests (the update check of a service worker's script) go out
    // regardless. A test that must see nothing reach its server while offline takes the server down as well.
    setOffline: (offline) => context.setOffline(offline),
    async evaluateInServiceWorker(scriptUrl, fn) {
      const worker = context.serviceWorkers().find((w) => w.url() === scriptUrl);
      if (!worker) throw new Error(`no service worker runs ${scriptUrl}`);
      return worker.evaluate(fn);
    },
    close: () => browser.close(),
  };
}
