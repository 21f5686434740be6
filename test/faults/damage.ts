import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Random } from './random.js';

/** Every fault a trial can meet; trial `seed` meets `FAULTS[seed % FAULTS.length]`, so consecutive seeds cover all. */
export const FAULTS = [
  'flip-segment',
  'flip-meta',
  'truncate-segment',
  'truncate-meta',
  'zero-segment',
  'zero-meta',
  'delete-segment',
  'delete-meta',
  'delete-commits',
  'delete-locks',
  'empty-segment',
  'empty-meta',
  'empty-commits',
  'stale-lock',
  'enospc',
  'read-only',
  'sigkill',
] as const;
export type Fault = (typeof FAULTS)[number];

const segments = (dir: string) => readdirSync(dir).filter((name) => /^\d{16}\.seg$/.test(name)).sort();

/**
 * Damages the files of the queue directory `dir` as `fault` says (the faults that change files in place, remove
 * them or plant a lock); returns what it did, for the trial's log.
 */
export function damage(fault: Fault, dir: string, random: Random): string {
  const [action, target] = fault.split('-') as [string, string];
  if (fault === 'stale-lock') return plantStaleLock(dir);
  if (fault === 'delete-locks') {
    // A temp cleaner that takes every lock file: the per-commit lock and each handle's lock content file.
    const names = readdirSync(dir).filter((name) => name.startsWith('lock'));
    for (const name of names) unlinkSync(join(dir, name));
    return `deleted ${names.join(', ') || 'no lock files (none there)'}`;
  }
  const name = target === 'segment' ? (segments(dir).length ? random.pick(segments(dir)) : undefined) : target;
  if (name === undefined || !existsSync(join(dir, name))) return `nothing to damage: no ${target} file`;
  const path = join(dir, name);
  const size = statSync(path).size;
  switch (action) {
    case 'delete':
      unlinkSync(path);
      return `deleted ${name} (${size} bytes)`;
    case 'empty':
      truncateSync(path, 0);
      return `emptied ${name} (${size} bytes)`;
    case 'truncate': {
      const at = random.int(0, Math.max(0, size - 1));
      truncateSync(path, at);
      return `cut ${name} from ${size} to ${at} bytes`;
    }
    case 'zero': {
      const at = random.int(0, Math.max(0, size - 1));
      const length = Math.min(size - at, random.int(1, 64));
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(length), 0, length, at);
      closeSync(fd);
      return `zeroed bytes ${at}..${at + length} of ${name} (${size} bytes)`;
    }
    case 'flip': {
      const bytes = readFileSync(path);
      if (bytes.length === 0) return `nothing to flip: ${name} is empty`;
      const flips = Array.from({ length: random.int(1, 3) }, () => [random.int(0, bytes.length - 1), random.int(0, 7)] as const);
      for (const [at, bit] of flips) bytes[at]! ^= 1 << bit;
      writeFileSync(path, bytes);
      return `flipped bit ${flips.map(([at, bit]) => `${bit} of byte ${at}`).join(', ')} of ${name} (${size} bytes)`;
    }
  }
  throw new Error(`not a damage fault: ${fault}`);
}

/**
 * The lock a killed process leaves when its container restarts: same host name, same boot, and the same pid as
 * this process (pid 1 in a container), but an earlier start time.
 */
function plantStaleLock(dir: string): string {
  if (!existsSync('/proc/self/stat')) return 'no stale lock: this platform has no /proc to give a start time';
  const start = startTime();
  const lock = { pid: process.pid, host: hostname(), ...(bootId() && { boot: bootId() }), start: Math.max(0, start - 100) };
  writeFileSync(join(dir, 'lock'), JSON.stringify(lock));
  return `planted lock ${JSON.stringify(lock)} (this process started at tick ${start})`;
}

function startTime(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}
