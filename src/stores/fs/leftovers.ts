import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unlinkQuiet } from './files.js';
import { isDead, thisProcess } from './process-id.js';

// Files named `<kind>.<pid>.<random>.<suffix>`: the pid says whose they are.
const LEFTOVER = /^(meta|lock|spare)\.(\d+)\.[0-9a-f]+\.(tmp|own)$/;

/**
 * Removes what writers that died left in a queue directory: metadata temp files (a process killed between writing
 * and renaming one), and lock and spare files of dead processes. Called under the queue's lock: metadata temp
 * files are only written under it, so any one seen then is a leftover; lock files (a takeover, a handle's lock
 * content) and spare segment files are made without the lock, so only those of dead processes go.
 */
export function removeLeftovers(dir: string): void {
  const { host } = thisProcess();
  for (const name of readdirSync(dir)) {
    const match = LEFTOVER.exec(name);
    if (!match) continue;
    if (match[1] === 'meta' ? match[3] === 'tmp' : isDead({ pid: Number(match[2]), host })) unlinkQuiet(join(dir, name));
  }
}
