import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** A process, named so that another process on the same machine can tell whether it is still alive. */
export interface ProcessId {
  readonly host: string;
  readonly pid: number;
  /** The machine's boot id (Linux), so that a pid from before a reboot is never taken for a live process. */
  readonly boot?: string;
}

/** This process. */
export function thisProcess(): ProcessId {
  const boot = bootId();
  return { host: hostname(), pid: process.pid, ...(boot && { boot }) };
}

/**
 * True only when `id` is certainly dead: it ran on this host, and either before the last boot or under a pid that
 * no process has now. A process on another host is never judged dead: its liveness cannot be checked from here.
 */
export function isDead(id: ProcessId): boolean {
  if (id.host !== hostname()) return false;
  const boot = bootId();
  if (id.boot && boot && id.boot !== boot) return true;
  try {
    process.kill(id.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the pid exists but belongs to another user, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** `host:pid:boot:random`, the form in which handles name their owner. */
export function ownerName(id: ProcessId, random: string): string {
  return `${id.host}:${id.pid}:${id.boot ?? ''}:${random}`;
}

/** The process an owner name names; undefined for names in another form. */
export function parseOwner(owner: string): ProcessId | undefined {
  const [host, pid, boot, random] = owner.split(':');
  if (host === undefined || !/^\d+$/.test(pid ?? '') || boot === undefined || random === undefined) return undefined;
  return { host, pid: Number(pid), ...(boot && { boot }) };
}

// Linux gives every boot a random id; elsewhere the pid check alone decides.
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
