/**
 * The version of sluice, as its package.json gives it. Every build writes it in for `__SLUICE_VERSION__`, read from
 * the package.json beside its own config (rollup.config.mjs for dist/cli.js; vitest.config.ts and the tests' esbuild
 * bundles likewise): the CLI never looks for a package.json when it runs, which dist/, node_modules/.bin and a bundle
 * would each put at another path. A build that does not write it in fails at once, loudly.
 */
declare const __SLUICE_VERSION__: string;

export const VERSION: string = __SLUICE_VERSION__;
