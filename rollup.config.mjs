import { existsSync, readFileSync, rmSync } from 'node:fs';
import terser from '@rollup/plugin-terser';
import MagicString from 'magic-string';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';
import { shortMessages } from './build/short-messages.mjs';

// Each build starts from an empty dist/: a module renamed or removed, or a declaration chunk under a new hash, left
// its old file behind, and the next pack shipped it.
rmSync('dist', { recursive: true, force: true });

// One ESM file and one bundled .d.ts per entry of package.json's `exports`. Entries whose source is not written
// yet are left out rather than exported broken.
const entries = Object.fromEntries(
  [
    ['index', 'src/index.ts'],
    ['index.node', 'src/index.node.ts'],
    ['index.browser', 'src/index.browser.ts'],
    ['fs', 'src/fs.ts'],
    ['indexeddb', 'src/indexeddb.ts'],
    ['sw', 'src/sw.ts'],
    ['redis', 'src/redis.ts'],
    ['cli', 'src/cli.ts'],
  ].filter(([, file]) => existsSync(file)),
);

// Two builds, picked by package.json's `exports`:
// - `development` (any platform) and `node` load the full build, dist/: a developer wants the message that says
//   what to do, and a server, the CLI or a Node job pays nothing for its bytes (Deno and Bun resolve `node` too).
// - `browser`, `worker` and `default` load the production build, dist/prod/: what an app bundles and ships, where
//   each message's bytes are paid on every page load. A bundler that sets neither `browser` nor `node` is taken to
//   build for shipping as well.
// Node's own entries (fs, redis, the CLI) have no production build: nothing ships them to a browser.
const production = ['index', 'index.browser', 'indexeddb', 'sw'];

// ioredis is an optional peer dependency: the app brings its own copy, the one its clients come from.
const external = (id) => id === 'idb' || id === 'ioredis' || id.startsWith('node:');

// sluice's version, for `sluice --version`: read from the package.json beside this config and written in where the CLI
// names it (`__SLUICE_VERSION__`, src/platform/cli/version.ts), so that the CLI never looks for a package.json when
// it runs (dist/cli.js, node_modules/.bin/sluice and a bundle would each find it at another path, or none).
const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const writeVersion = () => ({
  name: 'write-version',
  transform(code) {
    if (!code.includes('__SLUICE_VERSION__')) return null;
    const s = new MagicString(code);
    for (const match of code.matchAll(/(?<!declare const )\b__SLUICE_VERSION__\b/g)) {
      s.overwrite(match.index, match.index + match[0].length, JSON.stringify(version));
    }
    return { code: s.toString(), map: s.generateMap({ hires: true }) };
  },
});

const compile = (outDir) =>
  typescript({
    tsconfig: './tsconfig.build.json',
    // A type error stops the build, as it stops `npm run typecheck`: a build that warns and goes on ships it.
    noEmitOnError: true,
    // Sources inlined in the maps: the package ships no src/, and a map pointing at missing files makes bundlers warn.
    compilerOptions: { declaration: false, sourceMap: true, inlineSources: true, outDir, rootDir: 'src', noEmit: false },
  });

const output = {
  format: 'es',
  sourcemap: true,
  // One file per module, as the sources are: with "sideEffects": false a bundler then drops whole modules an
  // app does not use (the Outbox, when only the Queue is imported).
  preserveModules: true,
  preserveModulesRoot: 'src',
};

export default [
  {
    // The full build (dist/): messages that say what went wrong and what to do. Node, the CLI and the `development`
    // condition load it.
    input: entries,
    external,
    output: { ...output, dir: 'dist', banner: (chunk) => (chunk.name === 'cli' ? '#!/usr/bin/env node' : '') },
    plugins: [compile('dist'), writeVersion()],
  },
  {
    // The production build (dist/prod/): each SluiceError's message cut to its code, a few words and the name it
    // quotes (build/short-messages.mjs). Then terser with two passes: alone it saves nothing over the app's own
    // minifier, but after the cut it drops the arguments and parameters that only the long messages used, which a
    // bundler does not do across modules (bench/size.mjs: 0.5 KB gzipped off the Queue, 0.8 KB off the Outbox).
    // Names are left to the app's minifier, and `/* @__PURE__ */` annotations kept: without them an app's bundler
    // would keep the Outbox in a bundle that imports only the Queue.
    input: Object.fromEntries(production.filter((name) => name in entries).map((name) => [name, entries[name]])),
    external,
    output: {
      ...output,
      dir: 'dist/prod',
      plugins: [
        shortMessages(),
        terser({ module: true, ecma: 2022, compress: { passes: 2 }, mangle: false, format: { comments: false, preserve_annotations: true }, maxWorkers: 1 }),
      ],
    },
    plugins: [compile('dist/prod')],
  },
  {
    // The CLI exports nothing: it has no types to declare.
    input: Object.fromEntries(Object.entries(entries).filter(([name]) => name !== 'cli')),
    external,
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: 'chunks/[name]-[hash].d.ts' },
    plugins: [dts({ tsconfig: './tsconfig.build.json' })],
  },
];
