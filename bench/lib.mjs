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
