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
      return { evaluate: (fn, arg) => page.evaluate(fn, arg), close: () => page.close() };
    },
    close: () => browser.close(),
  };
}
