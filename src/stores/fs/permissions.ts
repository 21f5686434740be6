import { constants, fchmodSync, lstatSync, openSync, statSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { invalid } from '../../core/validate.js';
import { errno } from './files.js';

/**
 * Added to every open of a file in a queue directory: a symbolic link planted under a file's name is refused
 * (ELOOP), not followed to a file of someone else's choosing. 0 where the platform has no such flag (Windows).
 */
export const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** Throws 'ERR_INVALID_OPTION' unless `mode` is a file mode with read and write for the owner, and no other bits than read and write. */
export function checkMode(mode: unknown): asserts mode is number {
  if (!Number.isInteger(mode) || ((mode as number) & ~0o666) !== 0 || ((mode as number) & 0o600) !== 0o600) {
    invalid('mode', 'an octal file mode such as 0o600', mode);
  }
}

/** The mode of directories for files of `mode`: search (execute) wherever reading is granted (0o600 → 0o700, 0o660 → 0o770). */
export function directoryMode(mode: number): number {
  return mode | ((mode & 0o444) >> 2);
}

/** Opens the file at `path` with `flags`, never following a link there; undefined when there is no such file. */
export function openExisting(path: string, flags: number): number | undefined {
  try {
    return openSync(path, flags | NOFOLLOW);
  } catch (error) {
    if (errno(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Creates the file `path` (which must not exist) with exactly `mode`, and opens it with `flags`. The umask could
 * take group bits away that `mode` asks for (a group-shared queue), so those are set again explicitly.
 */
export function createFile(path: string, flags: number, mode: number): number {
  const fd = openSync(path, flags | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, mode);
  fitMode(fd, mode);
  return fd;
}

/** Gives the file just created as `fd` exactly `mode` (see `createFile`). */
export function fitMode(fd: number, mode: number): void {
  if (mode & 0o066) fchmodSync(fd, mode);
}

/**
 * Refuses (with 'ERR_INVALID_OPTION' naming the path and the reason) a directory that another user could plant
 * files or links in: one owned by another user (root excepted, and, for a queue shared with a group by `mode`, a
 * member of that group), or writable by group or others beyond what `mode` shares with them, unless sticky. POSIX
 * only: Windows has no such bits.
 */
export function checkDirectory(path: string, mode: number, what: string): void {
  if (process.platform === 'win32' || typeof process.geteuid !== 'function') return;
  const stat = lstatSync(path);
  const refuse = (reason: string, fix: string, planted = true) => {
    const risk = planted ? ': another user could plant files or links in it' : '';
    throw new SluiceError('ERR_INVALID_OPTION', `The ${what} ${path} ${reason}${risk}. ${fix}`);
  };
  if (stat.isSymbolicLink() && what === 'queue directory') {
    refuse('is a symbolic link', 'Make it a directory of its own.');
  }
  // The store's directory may be a link to where the queues live: judged by the directory it leads to.
  const dir = stat.isSymbolicLink() ? statSync(path) : stat;
  if (!dir.isDirectory()) refuse('is not a directory', 'Choose another path.', false);
  const me = process.geteuid();
  const shared = (mode & 0o060) !== 0 && (dir.gid === process.getegid?.() || (process.getgroups?.() ?? []).includes(dir.gid));
  if (dir.uid !== me && dir.uid !== 0 && !shared) {
    refuse(`is owned by user ${dir.uid}, not by this process's user ${me}`, 'Use a directory of your own, or give it to this user (chown).');
  }
  const allowed = ((mode & 0o060) !== 0 ? 0o020 : 0) | ((mode & 0o006) !== 0 ? 0o002 : 0);
  const open = dir.mode & 0o022 & ~allowed;
  if (open && !(dir.mode & 0o1000)) {
    const who = open & 0o002 ? 'others' : 'its group';
    refuse(
      `is writable by ${who} (mode 0o${(dir.mode & 0o7777).toString(8)}) and has no sticky bit`,
      `Take the write permission away (chmod ${open & 0o002 ? 'o-w' : 'g-w'}), or share the queue on purpose with the FileStore option \`mode\` (e.g. 0o660 for a group).`,
    );
  }
}
