// Runs every bench script in its own process (so one's heap does not skew the next), in order.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const scripts = ['memory.mjs', 'leasing.mjs', 'fs.mjs', 'outbox.mjs', 'indexeddb.mjs', 'size.mjs'];
const only = process.argv.slice(2);
let failed = false;
for (const script of scripts) {
  if (only.length && !only.some((name) => script.startsWith(name))) continue;
  const path = new URL(script, import.meta.url).pathname;
  if (!existsSync(path)) continue;
  const result = spawnSync(process.execPath, ['--expose-gc', path], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`bench/${script} failed (exit ${result.status})`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
