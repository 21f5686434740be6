import { existsSync } from 'node:fs';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

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

// ioredis is an optional peer dependency: the app brings its own copy, the one its clients come from.
const external = (id) => id === 'idb' || id === 'ioredis' || id.startsWith('node:');

export default [
  {
    input: entries,
    external,
    output: {
      dir: 'dist',
      format: 'es',
      sourcemap: true,
      // One file per module, as the sources are: with "sideEffects": false a bundler then drops whole modules an
      // app does not use (the Outbox, when only the Queue is imported).
      preserveModules: true,
      preserveModulesRoot: 'src',
      banner: (chunk) => (chunk.name === 'cli' ? '#!/usr/bin/env node' : ''),
    },
    plugins: [
      typescript({
        tsconfig: './tsconfig.build.json',
        // Sources inlined in the maps: the package ships no src/, and a map pointing at missing files makes bundlers warn.
        compilerOptions: { declaration: false, sourceMap: true, inlineSources: true, outDir: 'dist', rootDir: 'src', noEmit: false },
      }),
    ],
  },
  {
    // The CLI exports nothing: it has no types to declare.
    input: Object.fromEntries(Object.entries(entries).filter(([name]) => name !== 'cli')),
    external,
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: 'chunks/[name]-[hash].d.ts' },
    plugins: [dts({ tsconfig: './tsconfig.build.json' })],
  },
];
