import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** A process, named so that another process on the same machine can tell whether it is still alive. */
export interface ProcessId {
  readonly host: string;
  readonly pid: number;
  /** The machine's boot id (Linux), so that a pid from before a reboot is never taken for a live process. */
  readonly boot?: string;
  /**
   * When the process started, in clock ticks since boot (field 22 of `/proc/<pid>/stat`, Linux). A pid that a later
   * process has again (pid 1 of a restarted container: same host name, same boot) has a later start.
   */
  readonly start?: number;
  /** The pid namespace (Linux): a pid means nothing in another one, such as another container's. */
  readonly ns?: string;
}

/**
 * What can be told about a process from here: 'dead' and 'alive' are certain; 'elsewhere' (another host) and
 * 'hidden' (this host, another pid namespace) cannot be checked.
 */
export type Liveness = 'dead' | 'alive' | 'elsewhere' | 'hidden';

/** This process. */
export function thisProcess(): ProcessId {
  const boot = bootId();
  const start = stat('self')?.start;
  const ns = pidNamespace();
  return { host: hostname(), pid: process.pid, ...(boot && { boot }), ...(start !== undefined && { start }), ...(ns && { ns }) };
}

/**
 * Whether `id` still runs. Dead only when certain: it ran on this machine (its host, or its boot id) and in this pid namespace, and either before
 * the last boot, or under a pid that no process has now, or that a process started at another time has now (or a
 * zombie, which can release nothing). A process on another host or in another pid namespace cannot be seen. `here`
 * is this process (host, boot, namespace), as the caller read it once: they do not change while it runs.
 */
export function liveness(id: ProcessId, here: ProcessId = thisProcess()): Liveness {
  // One kernel, one boot id, whatever host name a container has (Docker and Kubernetes give each its own, and a host
  // is renamed): judged as this machine's, by pid namespace and pid. Else the lock of a container killed holding it
  // was never taken over.
  const renamed = id.host !== here.host;
  if (renamed && !(id.boot !== undefined && id.boot === here.boot)) return 'elsewhere';
  if (id.boot && here.boot && id.boot !== here.boot) return 'dead';
  // Under another host name, a pid namespace unknown (a lock of an older version) may be another container's.
  if ((id.ns && here.ns && id.ns !== here.ns) || (renamed && !(id.ns && here.ns))) return 'hidden';
  try {
    process.kill(id.pid, 0);
  } catch (error) {
    // EPERM: the pid exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  if (id.start === undefined) return 'alive';
  // The pid exists. Its start time says whether it is still the same process; when it cannot be read (no /proc,
  // or /proc mounted with hidepid), the pid alone decides.
  const now = stat(String(id.pid));
  if (!now) return 'alive';
  return now.start !== id.start || now.state === 'Z' || now.state === 'X' ? 'dead' : 'alive';
}

/** True only when `id` is certainly dead (see `liveness`). */
export function isDead(id: ProcessId, here?: ProcessId): boolean {
  return liveness(id, here) === 'dead';
}

/** How long an owner found alive is taken to be, before it is looked up again. */
const ALIVE_MS = 1000;

/**
 * Whether the owners of leases are gone, for one handle, which asks at every take about every other owner holding
 * items. Looking a process up costs a few system calls, so an owner found alive is not looked up again for a second;
 * one found gone stays gone. A process that dies has its leases back within a second, not after `leaseMs`.
 */
export class Owners {
  readonly #here: ProcessId;
  /** Owner names found alive, with until when that holds. */
  readonly #alive = new Map<string, number>();

  /** `here` is this process (see `liveness`). */
  constructor(here: ProcessId) {
    this.#here = here;
  }

  isGone(owner: string): boolean {
    const now = performance.now();
    if ((this.#alive.get(owner) ?? 0) > now) return false;
    const id = parseOwner(owner);
    const gone = id !== undefined && isDead(id, this.#here);
    // Names of handles long closed are dropped now and then, so that the map stays small.
    if (this.#alive.size > 1000) this.#alive.clear();
    if (gone) this.#alive.delete(owner);
    else this.#alive.set(owner, now + ALIVE_MS);
    return gone;
  }
}

/** `host:pid:boot:start:ns:random`, the form in which handles name their owner. */
export function ownerName(id: ProcessId, random: string): string {
  return `${id.host}:${id.pid}:${id.boot ?? ''}:${id.start ?? ''}:${id.ns ?? ''}:${random}`;
}

/** The process an owner name names (also in the older form `host:pid:boot:random`); undefined for other names. */
export function parseOwner(owner: string): ProcessId | undefined {
  const parts = owner.split(':');
  if (parts.length !== 4 && parts.length !== 6) return undefined;
  const [host, pid, boot] = parts as [string, string, string];
  const [start, ns] = parts.length === 6 ? [parts[3]!, parts[4]!] : ['', ''];
  if (!/^\d+$/.test(pid) || !/^\d*$/.test(start)) return undefined;
  return { host, pid: Number(pid), ...(boot && { boot }), ...(start && { start: Number(start) }), ...(ns && { ns }) };
}

/**
 * `pid_start` (or `pid` where there is no start time), then the pid namespace as 8 hex digits: how file names say
 * which process made them (`<kind>.<tag><random>.<suffix>`, see `fileId`). The namespace starts the name's random
 * part, so that older versions, which judge a file by its pid alone, still read the name (and take part in the lock's
 * line, its claims and its clean-up as before); this one reads it back, and never judges another container's file by
 * a pid of its own (see `leftover`).
 */
export function fileTag(id: ProcessId): string {
  const ns = Number(id.ns);
  const process = id.start === undefined ? String(id.pid) : `${id.pid}_${id.start}`;
  return Number.isSafeInteger(ns) && ns >= 0 && ns <= 0xffff_ffff ? `${process}.${ns.toString(16).padStart(8, '0')}` : `${process}.`;
}

/** `tag` (see `fileTag`) and 8 random hex digits: what goes between a file's kind and its suffix. */
export function fileId(tag: string): string {
  return tag + randomBytes(4).toString('hex');
}

/** The next waiter's ticket of this process: counted from a random start, as `fileId`'s random digits would be. */
let nextTicket = randomBytes(4).readUInt32BE(0) >>> 1;

/**
 * `tag` and 8 hex digits that grow with each call: a waiter's ticket's id (see `fileId`). Tickets of one millisecond
 * go by name (see `LockLine`): one process's then go in the order they were taken, which random digits did not keep
 * (two waiters whose timers fire together on a loaded machine were served in either order).
 */
export function ticketId(tag: string): string {
  const id = nextTicket;
  nextTicket = (nextTicket + 1) >>> 0;
  return tag + id.toString(16).padStart(8, '0');
}

// Linux gives every boot a random id; elsewhere the pid check alone decides.
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try {
    // "pid:[4026531836]": the namespace's inode number.
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * State and start time of process `pid` (or 'self') from `/proc/<pid>/stat`: `pid (comm) state ppid …`, where the
 * command name may hold spaces and parentheses, so fields are counted from the last ')'. State is field 3, the
 * start time field 22 (see proc(5)).
 */
function stat(pid: string): { state: string; start: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return fields[0] && Number.isSafeInteger(start) ? { state: fields[0], start } : undefined;
}
