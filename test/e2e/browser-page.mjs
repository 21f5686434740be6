// Serves the library, bundled for the browser, from 127.0.0.1 and drives it in Chromium through playwright-core.
// Used by the end-to-end tests and the browser benchmark.
import { createServer } from 'node:http';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { chromiumArgs } from '../browser/find-chromium.mjs';

const root = new URL('../../', import.meta.url).pathname;

/** The library as one script that sets `globalThis.sluice`. */
async function bundle() {
  const result = await build({
    stdin: {
      contents: `export * from './src/index.browser.ts'; export { IndexedDbStore } from './src/indexeddb.ts';`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    globalName: 'sluice',
    target: 'es2022',
    write: false,
  });
  return result.outputFiles[0].text;
}

/**
 * Starts a server and a browser. `open()` gives a new page of the same origin (so pages share IndexedDB, as tabs
 * do) with `sluice` loaded. Call `close()` when done.
 */
export async function startBrowser(executablePath) {
  const script = await bundle();
  const server = createServer((req, res) => {
    if (req.url === '/sluice.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>sluice</title><script src="/sluice.js"></script>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath,
    args: chromiumArgs,
  });
  const context = await browser.newContext();
  return {
    async open() {
      const page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(() => globalThis.sluice !== undefined);
      return page;
    },
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
