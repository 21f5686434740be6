// Bundle size as a browser app pays it: the built package (`dist/`, through package.json's `exports` under the
// `browser` condition, idb included) bundled by esbuild, minified, then gzipped. Run after `npm run build`.
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { table } from './lib.mjs';

const root = new URL('../', import.meta.url).pathname;

const rows = [
  {
    name: '`IndexedDbStore` alone',
    source: `import { IndexedDbStore } from 'sluice/indexeddb'; globalThis.x = IndexedDbStore;`,
  },
  {
    name: '`Queue` alone (`sluice` under `default`, MemoryStore default)',
    source: `import { Queue } from './dist/prod/index.js'; globalThis.x = Queue;`,
  },
  {
    name: '`Queue` + `IndexedDbStore`',
    source: `import { Queue } from 'sluice'; import { IndexedDbStore } from 'sluice/indexeddb'; globalThis.x = [Queue, IndexedDbStore];`,
    budget: 8 * 1024,
  },
  {
    name: '`Outbox` + `IndexedDbStore` + `backgroundSync`',
    source: `import { Outbox } from 'sluice'; import { IndexedDbStore } from 'sluice/indexeddb'; import { backgroundSync } from 'sluice/sw'; globalThis.x = [Outbox, IndexedDbStore, backgroundSync];`,
    budget: 13 * 1024,
  },
];

/** Minified and gzipped bytes of `source` bundled for a browser, or the reason it cannot be bundled yet. */
async function size(source) {
  const result = await build({
    stdin: { contents: source, resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  }).catch((error) => ({ error }));
  if (result.error) return { missing: result.error.errors?.[0]?.text ?? String(result.error) };
  const bytes = result.outputFiles[0].contents;
  return { min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

if (!existsSync(new URL('dist/index.browser.js', `file://${root}`))) {
  console.error('bench/size.mjs: dist/ is missing; run `npm run build` first (`npm run bench` does).');
  process.exit(1);
}
const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
const out = [];
for (const row of rows) {
  const s = await size(row.source);
  if (s.missing) {
    // The Outbox entry lands after the Queue's: say so instead of failing the bench.
    out.push([row.name, '-', '-', row.budget === undefined ? '-' : kb(row.budget), `not built yet (${s.missing})`]);
  } else {
    const verdict = row.budget === undefined ? 'part of the rows below' : s.gzip <= row.budget ? 'within budget' : 'OVER BUDGET';
    out.push([row.name, kb(s.min), kb(s.gzip), row.budget === undefined ? '-' : kb(row.budget), verdict]);
  }
}
table('Bundle size (esbuild, browser condition, minified + gzip -9)', ['import', 'minified', 'gzipped', 'budget (gzipped)', 'verdict'], out);
