import { defineConfig } from 'vitest/config';

// Two projects: `node` (npm run test:node) and `e2e`, the end-to-end tests that drive real browsers, which
// test/browser/run.mjs (npm run test:browser) runs once per engine beside web-test-runner.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/browser/**', 'test/e2e/**', 'node_modules/**'] },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.e2e.test.ts'], hookTimeout: 120_000 },
      },
    ],
  },
});
