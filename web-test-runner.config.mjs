import { esbuildPlugin } from '@web/dev-server-esbuild';
import { chromeLauncher } from '@web/test-runner-chrome';
import { chromiumArgs } from './test/browser/find-chromium.mjs';

// test/browser/run.mjs finds Chromium and passes it here; run through `npm run test:browser`.
const executablePath = process.env.CHROME_PATH;

export default {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
  concurrency: 1,
  plugins: [esbuildPlugin({ ts: true, target: 'es2022' })],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath,
        headless: true,
        args: chromiumArgs,
      },
    }),
  ],
  testFramework: { config: { timeout: 120_000 } },
  testsFinishTimeout: 600_000,
};
