import { createRequire } from 'node:module';

/**
 * A TypeScript set-up sluice's users have, checked against the packed package by package.test.ts (the README's
 * table). Between them they pin what the types need of `lib`: ES2018 or later (async iterators); the platform's
 * globals from `dom`, `webworker` or @types/node; and `Symbol.asyncDispose`, which @types/node declares and which
 * otherwise takes `esnext.disposable`. `skipLibCheck` is off, so a public type that names something the set-up
 * lacks fails.
 */
export interface Setup {
  readonly name: string;
  readonly tsconfig: { readonly extends?: string; readonly compilerOptions: Record<string, unknown> };
  readonly files: readonly string[];
}

const checked = { strict: true, noEmit: true, skipLibCheck: false };
const node = { target: 'es2022', lib: ['es2023'], module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] };
const bundler = { target: 'es2022', module: 'esnext', moduleResolution: 'bundler', types: [] };

export const setups: readonly Setup[] = [
  {
    name: 'Node, @tsconfig/node20 as it is (lib es2023, node16 resolution, no DOM)',
    tsconfig: { extends: createRequire(import.meta.url).resolve('@tsconfig/node20/tsconfig.json'), compilerOptions: checked },
    files: ['consumer.ts', 'commonjs.cts'],
  },
  {
    name: 'Node, nodenext resolution, no DOM, the oldest lib (es2018)',
    tsconfig: { compilerOptions: { ...checked, ...node, lib: ['es2018'] } },
    files: ['consumer.ts'],
  },
  {
    name: 'Node, exactOptionalPropertyTypes (of @tsconfig/strictest): an option given as undefined is left out',
    tsconfig: { compilerOptions: { ...checked, ...node, exactOptionalPropertyTypes: true } },
    files: ['consumer.ts'],
  },
  {
    name: 'Node with the DOM lib, nodenext resolution',
    tsconfig: { compilerOptions: { ...checked, ...node, lib: ['es2023', 'dom'] } },
    files: ['consumer.ts'],
  },
  {
    name: 'browser: DOM lib, bundler resolution, no @types/node',
    tsconfig: { compilerOptions: { ...checked, ...bundler, lib: ['es2022', 'dom', 'esnext.disposable'] } },
    files: ['consumer.ts'],
  },
  {
    name: 'browser: DOM lib, nodenext resolution, no @types/node, the oldest lib (es2018)',
    tsconfig: { compilerOptions: { ...checked, ...node, types: [], lib: ['es2018', 'dom', 'esnext.disposable'] } },
    files: ['consumer.ts'],
  },
  {
    name: 'web and service workers: webworker lib, bundler resolution, no @types/node',
    tsconfig: { compilerOptions: { ...checked, ...bundler, lib: ['es2022', 'webworker', 'esnext.disposable'] } },
    files: ['consumer.ts', 'service-worker.ts'],
  },
];

/** The browser set-up without `esnext.disposable`: what the README says is missing then. */
export const withoutDisposable: Setup = {
  name: 'browser without esnext.disposable',
  tsconfig: { compilerOptions: { ...checked, ...bundler, lib: ['es2022', 'dom'] } },
  files: ['consumer.ts'],
};
