import { esbuildPlugin } from '@web/dev-server-esbuild';
import { defaultReporter } from '@web/test-runner';
import { countReporter } from './test/browser/count-reporter.mjs';
import { findEngines } from './test/browser/engines.mjs';
import { launcherFor } from './test/browser/launchers.mjs';

// Run through `npm run test:browser` (test/browser/run.mjs), which starts one web-test-runner per engine with
// SLUICE_ENGINES naming it and reports an engine that is missing; here, only the engines that were found run.
const engines = findEngines().filter((engine) => !engine.missing);

export default {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
  concurrency: 1,
  // Chosen by test/browser/run.mjs, one free port per engine (two runners looking from 8000 up at once collided).
  ...(process.env.SLUICE_WTR_PORT && { port: Number(process.env.SLUICE_WTR_PORT) }),
  plugins: [esbuildPlugin({ ts: true, target: 'es2022' })],
  browsers: engines.map(launcherFor),
  reporters: [defaultReporter(), ...(process.env.SLUICE_WTR_COUNTS ? [countReporter(process.env.SLUICE_WTR_COUNTS)] : [])],
  testFramework: { config: { timeout: 120_000 } },
  browserStartTimeout: 120_000,
  testsFinishTimeout: 600_000,
};
