// Shared by the bench scripts: medians of several runs through tinybench, and a markdown table.
import { Bench } from 'tinybench';

/**
 * Runs each case `runs` times (after a warm-up) and reports its median rate. A case is `{ name, items, fn, setup? }`:
 * `fn` does `items` units of work once; `setup` (not timed) prepares each run.
 */
export async function measure(cases, { runs = 5 } = {}) {
  const bench = new Bench({ iterations: runs, time: 0, warmup: true, warmupIterations: 1, warmupTime: 0, throws: true });
  // Every case as an async function: tinybench runs a plain function that returns a promise as if it were sync.
  for (const c of cases) bench.add(c.name, async () => c.fn(), c.setup ? { beforeEach: async () => c.setup() } : {});
  await bench.run();
  return cases.map((c, i) => {
    const ms = bench.tasks[i].result.latency.p50;
    return { name: c.name, items: c.items, ms, rate: (c.items / ms) * 1000 };
  });
}

export const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

/** Prints a markdown table. */
export function table(title, header, rows) {
  console.log(`\n### ${title}\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`| ${header.map(() => '---').join(' | ')} |`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

/** The value at quantile `p` (0..1) of `values`, NaN when there are none. */
export const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))] ?? NaN;

/** The middle value (the upper of the two middle ones for an even count). */
export const median = (values) => percentile(values, 0.5);

/**
 * Lets forked consumers (each sends a message once ready, then one with `{ values, latencies }` when done) go at
 * once, and checks that the `items` values 0..items-1 were each acked exactly once between them.
 * Resolves the time from the start signal to the last result, the results and every take+ack latency.
 */
export async function race(children, items) {
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));
  const results = children.map(
    (child) =>
      new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => code !== 0 && reject(new Error(`consumer exited with ${code}`)));
      }),
  );
  const started = performance.now();
  for (const child of children) child.send('go');
  const done = await Promise.all(results);
  const ms = performance.now() - started;
  const seen = new Uint8Array(items);
  for (const { values } of done) for (const v of values) seen[v]++;
  const wrong = seen.reduce((count, times) => count + (times === 1 ? 0 : 1), 0);
  if (wrong > 0) throw new Error(`exactly-once broken with ${children.length} processes: ${wrong} of ${items} items acked other than once`);
  return { ms, done, latencies: done.flatMap((d) => d.latencies) };
}
