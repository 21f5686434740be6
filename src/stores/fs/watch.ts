import { type FSWatcher, watch } from 'node:fs';

/** How often the commit counter is read, behind the file system's change notices. */
const POLL_MS = 1000;

/**
 * Calls `onChange` when the commit counter at `path` changes to a value `ignore` does not accept (a handle's own
 * commit is no news to it). The file system's change notices make that prompt; a poll of the counter stands behind
 * them, for file systems that send none (network mounts) and notices coalesced or lost. Neither keeps the process
 * alive. `read` returns undefined once the counter can no longer be read (the handle closed or failed).
 */
export function watchCounter(
  path: string,
  read: () => number | undefined,
  ignore: (count: number) => boolean,
  onChange: () => void,
): () => void {
  let last = read();
  const check = () => {
    const count = read();
    if (count === undefined || count === last) return;
    last = count;
    if (!ignore(count)) onChange();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path, { persistent: false }, check);
    // Out of watches (ENOSPC) or the like: the poll alone then.
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  const poll = setInterval(check, POLL_MS);
  poll.unref();
  return () => {
    watcher?.close();
    clearInterval(poll);
  };
}
