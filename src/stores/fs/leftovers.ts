import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unlinkQuiet } from './files.js';
import { isDead, type ProcessId, thisProcess } from './process-id.js';

// Files named `<kind>.<pid>_<start>.<ns><random>.<suffix>` (see `fileTag`; `<pid>` alone, or no `<ns>`, by older
// versions): the pid and its start time say whose they are, so that a later process with the same pid (pid 1 of a
// restarted container) still clears what the earlier one left; the pid namespace (8 hex digits before the random 8),
// that a pid of another container's is not looked up here (where another process, or none, has it: its live files
// were removed). A waiter's ticket (see `LockLine`) ends `.<time>.wait`.
const LEFTOVER = /^(meta|lock|spare|commits)\.(\d+)(?:_(\d+))?\.(?:([0-9a-f]{8})(?=[0-9a-f]{8}\.))?[0-9a-f]+\.(tmp|own|\d+\.wait)$/;

/**
 * Removes what writers that died left in a queue directory: metadata temp files (a process killed between writing
 * and renaming one), and lock (content, takeover, ticket), spare and counter files of dead processes. Under the
 * queue's lock (`locked`): metadata temp files are only written under it, so any one seen then is a leftover; lock
 * files (a takeover, a handle's lock content, a waiter's ticket), spare segment files and new counter files are made
 * without the lock, so only those of dead processes go, which needs no lock.
 */
export function removeLeftovers(dir: string, locked = true): void {
  const here = thisProcess();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = leftover(entry.name, here);
    // A directory under such a name is none of a writer's files: left alone, as it blocks nothing.
    if (file && !entry.isDirectory() && (file.kind === 'meta' ? locked && file.suffix === 'tmp' : isDead(file.owner, here))) unlinkQuiet(join(dir, entry.name));
  }
}

/**
 * What a file's name says of it, when it is one of a process's own (see `LEFTOVER`): its kind, owner (a process on
 * this host, `here`) and suffix.
 */
export function leftover(name: string, here: ProcessId): { kind: string; owner: ProcessId; suffix: string } | undefined {
  const match = LEFTOVER.exec(name);
  if (!match) return undefined;
  const [, kind, pid, start, ns, suffix] = match;
  const owner = { host: here.host, pid: Number(pid), ...(start !== undefined && { start: Number(start) }), ...(ns !== undefined && { ns: String(parseInt(ns, 16)) }) };
  return { kind: kind!, owner, suffix: suffix! };
}
