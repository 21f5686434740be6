// The browser suites in every engine (Chromium, Firefox, WebKit): for each, web-test-runner (test/browser/*.test.ts:
// conformance and model tests in a real IndexedDB) and the end-to-end tests (test/e2e, vitest, driving tabs,
// workers and service workers). Parts run a few at a time, each printed whole when it ends, then one table of what
// ran where. A missing engine is said loudly and skipped; with SLUICE_REQUIRE_BROWSER=1 it fails the run, and so
// does an engine that ran no test or fewer web-test-runner tests than another.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserRequired, findEngines, skipNotice } from './engines.mjs';
import { freePort } from './free-port.mjs';

// Three parts at a time: on a 2-core machine that beat two (browsers wait on IndexedDB and timers as much as on
// the CPU) and six (which only made them wait on each other).
const JOBS = Number(process.env.SLUICE_BROWSER_JOBS ?? 3);
const scratch = mkdtempSync(join(tmpdir(), 'sluice-browser-'));

const engines = findEngines();
const missing = engines.filter((engine) => engine.missing);
const found = engines.filter((engine) => !engine.missing);
for (const engine of missing) console.error(skipNotice('the browser suites (web-test-runner and end-to-end)', engine));

/** Runs a command, keeping its output to print whole; resolves with its exit code, output and wall time. */
function run(command, args, env) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output, seconds: (Date.now() - started) / 1000 }));
  });
}

const readJson = (file) => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
};

/** The two parts of one engine, each resolving to `{ code, output, seconds, counts }`. */
function partsOf(engine) {
  const env = { SLUICE_ENGINES: engine.name };
  const wtrCounts = join(scratch, `${engine.name}-wtr.json`);
  const e2eReport = join(scratch, `${engine.name}-e2e.json`);
  return [
    {
      engine,
      name: 'web-test-runner',
      async start() {
        // Left to itself, each engine's runner looks for a port from 8000 up: two started at once both found 8000 free,
        // and one failed (EADDRINUSE). A free port may still be taken by another process before the runner listens on
        // it (on every interface, which it does whatever its hostname): it then fails before any test, and runs again.
        let result;
        for (let tries = 1; ; tries++) {
          const port = String(await freePort());
          result = await run('npx', ['web-test-runner', '--config', 'web-test-runner.config.mjs'], { ...env, SLUICE_WTR_COUNTS: wtrCounts, SLUICE_WTR_PORT: port });
          if (result.code === 0 || tries === 3 || !result.output.includes(`EADDRINUSE: address already in use :::${port}`)) break;
          console.error(`${engine.label}: web-test-runner found port ${port} taken as it started; it runs again on another.`);
        }
        const counts = readJson(wtrCounts)?.[engine.label];
        return { ...result, counts };
      },
    },
    {
      engine,
      name: 'end-to-end (vitest)',
      async start() {
        const args = ['vitest', 'run', '--project', 'e2e', '--reporter=default', '--reporter=json', `--outputFile.json=${e2eReport}`];
        const result = await run('npx', args, env);
        const report = readJson(e2eReport);
        // vitest counts an `it.fails` test that failed as passed; those pinning a known bug end their title with
        // "(known bug)" and are shown apart, so that the passed count is what works.
        const titles = report?.testResults.flatMap((file) => file.assertionResults) ?? [];
        const knownBugs = titles.filter((test) => test.status === 'passed' && test.title.endsWith('(known bug)')).length;
        const counts = report && {
          passed: report.numPassedTests - knownBugs,
          knownBugs,
          failed: report.numFailedTests,
          skipped: report.numPendingTests + report.numTodoTests,
        };
        return { ...result, counts };
      },
    },
  ];
}

// The longest first (the end-to-end parts, Firefox's the longest of them), so that the last to start are short.
const rank = { firefox: 0, webkit: 1, chromium: 2 };
const parts = found
  .flatMap(partsOf)
  .sort((a, b) => Number(a.name.startsWith('web-test-runner')) - Number(b.name.startsWith('web-test-runner')) || rank[a.engine.name] - rank[b.engine.name]);
const started = Date.now();
const results = new Map();
let nextPart = 0;
async function worker() {
  while (nextPart < parts.length) {
    const part = parts[nextPart++];
    const result = await part.start();
    results.set(part, result);
    const head = `${part.engine.label}: ${part.name}, ${result.seconds.toFixed(1)} s, exit ${result.code}`;
    console.log(`\n${'─'.repeat(8)} ${head} ${'─'.repeat(Math.max(8, 100 - head.length))}\n${result.output.trimEnd()}`);
  }
}
await Promise.all(Array.from({ length: Math.min(JOBS, parts.length) }, worker));
rmSync(scratch, { recursive: true, force: true });

// What ran where, and whether that is enough.
const problems = [];
const show = (c) =>
  c
    ? `${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}${c.knownBugs ? `, ${c.knownBugs} known bug (it.fails)` : ''}`
    : 'no counts (did not finish)';
const wtrPassed = [];
console.log(`\n### Browser suites by engine (${((Date.now() - started) / 1000).toFixed(1)} s in all, ${JOBS} parts at a time)\n`);
console.log('| engine | web-test-runner | time | end-to-end (vitest) | time |');
console.log('| --- | --- | --- | --- | --- |');
for (const engine of found) {
  const resultOf = (name) => results.get(parts.find((part) => part.engine === engine && part.name.startsWith(name)));
  const [wtr, e2e] = [resultOf('web-test-runner'), resultOf('end-to-end')];
  console.log(`| ${engine.label} | ${show(wtr.counts)} | ${wtr.seconds.toFixed(1)} s | ${show(e2e.counts)} | ${e2e.seconds.toFixed(1)} s |`);
  for (const [name, result] of [['web-test-runner', wtr], ['end-to-end', e2e]]) {
    if (result.code !== 0) problems.push(`${engine.label}: ${name} exited ${result.code}`);
    else if (!result.counts || result.counts.passed === 0) problems.push(`${engine.label}: ${name} ran no test`);
  }
  if (wtr.counts) wtrPassed.push(wtr.counts.passed);
}
for (const engine of missing) console.log(`| ${engine.label} | SKIPPED: ${engine.missing} | | | |`);
// The web-test-runner suites are the same files in every engine: a smaller count means tests went missing.
if (new Set(wtrPassed).size > 1) problems.push(`web-test-runner passed different numbers of tests by engine (${wtrPassed.join(', ')})`);
if (missing.length > 0 && browserRequired) problems.push(`SLUICE_REQUIRE_BROWSER=1 and ${missing.map((e) => e.label).join(', ')} missing`);

const total = { passed: 0, failed: 0, skipped: 0 };
for (const result of results.values()) for (const key of Object.keys(total)) total[key] += result.counts?.[key] ?? 0;
console.log('');
for (const problem of problems) console.error(`*** FAILED: ${problem} ***`);
console.log(`browser suites: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(problems.length > 0 ? 1 : 0);
