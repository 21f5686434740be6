// Bundle size as a browser app pays it (bench/bundle-size.mjs says how it is measured). Run after `npm run build`.
import { built, kb, measure, rows } from './bundle-size.mjs';
import { table } from './lib.mjs';

if (!built()) {
  console.error('bench/size.mjs: dist/ is missing; run `npm run build` first (`npm run bench` does).');
  process.exit(1);
}
const out = [];
for (const row of rows) {
  const s = await measure(row.source);
  const budget = row.budget === undefined ? '-' : kb(row.budget);
  const limit = row.limit === undefined ? '-' : kb(row.limit);
  if (s.missing) {
    out.push([row.name, '-', '-', budget, limit, `cannot be bundled (${s.missing})`]);
  } else {
    const verdict = row.budget === undefined ? 'part of the rows below' : s.gzip <= row.budget ? 'within budget' : 'OVER BUDGET';
    out.push([row.name, kb(s.min), kb(s.gzip), budget, limit, verdict]);
  }
}
table('Bundle size (esbuild, browser condition, minified + gzip -9)', ['import', 'minified', 'gzipped', 'budget (gzipped)', 'limit (npm test)', 'verdict'], out);
