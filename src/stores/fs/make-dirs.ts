import { lstatSync, mkdirSync, type Stats, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errno } from './files.js';

/**
 * Makes `dir` and its missing parents, as `mkdirSync(dir, { recursive: true, mode })` does, and returns the first
 * directory it made (undefined when `dir` was there). One level at a time: Node 20's recursive mkdir loops for ever,
 * its timers stopped with it, where the file system says ENOENT of a parent that is there (a path under /proc), and a
 * FileStore opened there hung its process instead of failing.
 */
export function makeDirs(dir: string, mode: number): string | undefined {
  const missing: string[] = [];
  let at = resolve(dir);
  for (; absent(at) && dirname(at) !== at; at = dirname(at)) missing.push(at);
  // Something there that is no directory (a file, a path through one): the mkdir fails with what it is.
  if (missing.length === 0 && !isDirectory(at)) mkdirSync(at, { mode });
  // A file (or a link to one) above the first missing: Windows says ENOENT of the path through it, where Linux and the
  // recursive mkdir say ENOTDIR, which FileStore reports as the option's mistake rather than the disk's.
  if (missing.length > 0 && isFile(at)) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${missing[missing.length - 1]}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: missing[missing.length - 1] });
  let first: string | undefined;
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, { mode });
      first ??= path;
    } catch (error) {
      // Made meanwhile by another process is as good; a file there (or a link to nowhere) is the caller's to report.
      if (errno(error) !== 'EEXIST' || !isDirectory(path)) throw error;
    }
  }
  return first;
}

/** Nothing there, not even a link: what is there (a file, a link to nowhere) fails the mkdir below it, as it should. */
function absent(path: string): boolean {
  try {
    lstatSync(path);
    return false;
  } catch (error) {
    return errno(error) === 'ENOENT';
  }
}

/** What `path` leads to, links followed; undefined where nothing (or a link to nowhere) is. */
function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

const isFile = (path: string): boolean => statOf(path)?.isFile() ?? false;
const isDirectory = (path: string): boolean => statOf(path)?.isDirectory() ?? false;
