// A web-test-runner reporter that writes, per browser, how many tests passed, failed and were skipped, to a JSON
// file: test/browser/run.mjs reads it to check that every engine really ran the suites.
import { writeFileSync } from 'node:fs';

function tally(suite, counts) {
  for (const test of suite?.tests ?? []) {
    if (test.skipped) counts.skipped++;
    else if (test.passed) counts.passed++;
    else counts.failed++;
  }
  for (const child of suite?.suites ?? []) tally(child, counts);
  return counts;
}

/** @param {string} file where to write `{ [browserName]: { passed, failed, skipped, files } }` */
export function countReporter(file) {
  return {
    stop({ sessions }) {
      const byBrowser = {};
      for (const session of sessions) {
        const counts = (byBrowser[session.browser.name] ??= { passed: 0, failed: 0, skipped: 0, files: 0 });
        counts.files++;
        tally(session.testResults, counts);
        // A file that failed to load or threw outside a test counts as a failure too.
        if (session.errors.length > 0 && session.passed === false) counts.failed += session.errors.length;
      }
      writeFileSync(file, JSON.stringify(byBrowser));
    },
  };
}
