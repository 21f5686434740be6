// Builds the field-notes demo into demo/build/: the page script (app.js) and the service worker (sw.js), each bundled
// with sluice's browser entry as an app would bundle the published package, and the static files beside them.
// `npm run demo` runs it after `npm run build` (the bundles take sluice from dist/, through package.json's exports).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { transform } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const app = join(here, 'app');
const STATIC = ['index.html', 'style.css', 'icon.svg', 'manifest.webmanifest'];

/**
 * `sluice` and `sluice/*` as an app that installed the package resolves them: through package.json's `exports`,
 * with the `development` and `browser` conditions: the demo is run by someone trying sluice out, who should read the
 * full error messages, not the production build's short ones. (Rollup's node-resolve does not resolve a package's own
 * name from inside it.)
 */
function sluicePackage() {
  const { name, exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return {
    name: 'sluice-package',
    resolveId(source) {
      if (source !== name && !source.startsWith(`${name}/`)) return null;
      const pick = (entry) => (typeof entry === 'string' || entry === undefined ? entry : (entry.browser ?? entry.default));
      const entry = exports[`.${source.slice(name.length)}`];
      const target = typeof entry === 'string' ? entry : pick(entry?.development) ?? pick(entry);
      if (!target) return this.error(`${source} is not exported by package.json`);
      return join(root, target);
    },
  };
}

/** TypeScript to JavaScript, types dropped (`npm run typecheck` checks them). */
function typescript() {
  return {
    name: 'typescript',
    async transform(code, id) {
      if (!id.endsWith('.ts')) return null;
      const result = await transform(code, { loader: 'ts', target: 'es2022', sourcemap: true, sourcefile: id });
      return { code: result.code, map: result.map };
    },
  };
}

const plugins = () => [sluicePackage(), nodeResolve({ browser: true, exportConditions: ['browser'], extensions: ['.ts', '.mjs', '.js'] }), typescript()];

/** The two builds, writing into `outDir` (demo/build by default). */
export function demoConfig({ outDir = join(here, 'build') } = {}) {
  return [
    {
      input: join(app, 'main.ts'),
      plugins: [
        ...plugins(),
        {
          name: 'static-files',
          generateBundle() {
            for (const fileName of STATIC) this.emitFile({ type: 'asset', fileName, source: readFileSync(join(app, fileName)) });
          },
        },
      ],
      output: { file: join(outDir, 'app.js'), format: 'es', sourcemap: true },
    },
    {
      input: join(app, 'sw.ts'),
      plugins: plugins(),
      // A classic script: every engine runs one as a service worker (module workers are newer). Its cache is named
      // after the files it caches, read when this build runs (after the page's).
      output: {
        file: join(outDir, 'sw.js'),
        format: 'iife',
        sourcemap: true,
        intro: () => `const SHELL_VERSION = ${JSON.stringify(shellVersion(outDir))};`,
      },
    },
  ];
}

function shellVersion(outDir) {
  const hash = createHash('sha256');
  for (const file of ['app.js', ...STATIC]) hash.update(readFileSync(join(outDir, file)));
  return hash.digest('hex').slice(0, 12);
}

export default demoConfig();
