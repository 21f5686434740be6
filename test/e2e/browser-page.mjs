// Serves the library, bundled for the browser, from 127.0.0.1 and opens pages of that origin in one engine.
// Used by the end-to-end tests and the browser benchmark.
import { createServer } from 'node:http';
import { build } from 'esbuild';
import { launchBrowser } from '../browser/drive/index.mjs';

const root = new URL('../../', import.meta.url).pathname;

/** `source` (TypeScript importing from the repository root) bundled as one classic script. */
export async function bundle(source, globalName) {
  const result = await build({
    stdin: { contents: source, resolveDir: root, loader: 'ts' },
    bundle: true,
    format: 'iife',
    ...(globalName ? { globalName } : {}),
    target: 'es2022',
    write: false,
  });
  return result.outputFiles[0].text;
}

/**
 * Starts a server and a browser of `engine`. `open()` gives a new page of the server's origin (so pages share
 * IndexedDB, as tabs do) with the library loaded as `globalThis.sluice`; `/sluice.js` is that script. `handle(req,
 * res)` may answer other requests (returning true when it did); `launch` goes to launchBrowser. Call `close()` when done.
 */
export async function startBrowser(engine, { handle, launch } = {}) {
  const script = await bundle(`export * from './src/index.browser.ts'; export { IndexedDbStore } from './src/indexeddb.ts';`, 'sluice');
  const server = createServer((req, res) => {
    if (handle?.(req, res)) return;
    if (req.url === '/sluice.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>sluice</title><script src="/sluice.js"></script>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const closeServer = () => new Promise((resolve) => server.close(resolve));
  let browser;
  try {
    browser = await launchBrowser(engine, launch);
  } catch (error) {
    await closeServer();
    throw error;
  }
  return {
    origin,
    setOffline: browser.setOffline,
    async open() {
      const page = await browser.newPage(`${origin}/`);
      // A classic script in the head has run by the time the page has loaded, but say so if it did not.
      if (!(await page.evaluate(() => globalThis.sluice !== undefined))) throw new Error('the library did not load in the page');
      return page;
    },
    async close() {
      await browser.close();
      server.closeAllConnections();
      await closeServer();
    },
  };
}
