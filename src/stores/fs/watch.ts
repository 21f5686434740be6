import { type FSWatcher, watch } from 'node:fs';
import { stateOf } from './descriptors.js';

/** How often the commit counter is read, behind the file system's change notices. */
const POLL_MS = 1000;

/**
 * Calls `onChange` when the commit counter at `path` moved from the token last read to one that `ignore` does not
 * accept (a handle's own commits are no news to it, those of another between them are). The file system's change
 * notices make that prompt; a poll of the counter stands behind them, for file systems that send none (network
 * mounts) and notices coalesced or lost. Neither keeps the process alive: a queue left open must not hold it, and an
 * iterator waiting for items holds a timer of its own while it waits (see `waitFor`). `read` returns undefined once
 * the counter can no longer be read (the handle closed or failed).
 *
 * A counter removed and made again is another file: its notices come to a new watch, and `onChange` is called
 * at once, since the handle must then read the directory again.
 */
export function watchCounter(path: string, read: () => string | undefined, ignore: (token: string, from: string | undefined) => boolean, onChange: () => void): () => void {
  let last: string | undefined;
  let identity: string | undefined;
  let watcher: FSWatcher | undefined;
  // Set while the counter cannot be read: told once, not at every poll.
  let failing = false;
  const changed = (): boolean => {
    const now = stateOf(path)?.identity;
    if (now !== identity) {
      identity = now;
      rewatch();
      return read() !== undefined;
    }
    const token = read();
    if (token === undefined || token === last) return false;
    const from = last;
    last = token;
    return !ignore(token, from);
  };
  // Called from the file system's notices and a timer, where a throw would end the process: a counter that cannot
  // be read (made a directory or a link, say) is told as a change instead, and the handle's next call reports it.
  const check = () => {
    let tell: boolean;
    try {
      tell = changed();
      failing = false;
    } catch {
      tell = !failing;
      failing = true;
    }
    if (tell) onChange();
  };
  try {
    last = read();
    identity = stateOf(path)?.identity;
  } catch {
    // Told at the first check.
  }
  const rewatch = () => {
    watcher?.close();
    try {
      watcher = watch(path, { persistent: false }, check);
      // Out of watches (ENOSPC) or the like: the poll alone then.
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined;
    }
  };
  rewatch();
  const poll = setInterval(check, POLL_MS);
  poll.unref();
  return () => {
    watcher?.close();
    clearInterval(poll);
  };
}
