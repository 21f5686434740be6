import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unlinkQuiet } from './files.js';
import type { LockFiles } from './lock-files.js';

/** A ticket's name: `lock.<pid>_<start>.<ns><count>.<when it was taken, ms>.wait` (see `fileTag`, `ticketId`). */
const TICKET = /^lock\.\d+(?:_\d+)?\.[0-9a-f]+\.(\d+)\.wait$/;

/**
 * The line of handles waiting for a queue directory's lock, first come first served. A waiter links its lock content
 * as a ticket named for when it came; when the next turn comes free, it is the earliest live ticket's to claim (see
 * `ProcessLock`). Without a line the waiters race for each turn as it passes, and one can lose that race round
 * after round: with four processes draining one queue, the slowest take + ack waited through up to thirteen slices
 * of the others, over four rounds. A ticket whose holder is gone is removed by a waiter behind it.
 */
export class LockLine {
  readonly #dir: string;
  readonly #files: LockFiles;
  /** This handle's ticket, by name. */
  #ticket: string | undefined;

  constructor(dir: string, files: LockFiles) {
    this.#dir = dir;
    this.#files = files;
  }

  /** Takes a ticket, unless this handle has one. */
  join(): void {
    if (this.#ticket) return;
    const name = this.#files.ticketName(Date.now());
    if (this.#files.link(join(this.#dir, name))) this.#ticket = name;
  }

  /**
   * True when no live ticket came before this handle's (or it has none: it could not take one, and waits as if
   * the line were not there). `judge`: look up the holders of the tickets before it, and remove those gone.
   */
  first(judge: boolean): boolean {
    const mine = this.#ticket;
    if (!mine) return true;
    const ahead = readdirSync(this.#dir).filter((name) => TICKET.test(name) && before(name, mine));
    if (!judge) return ahead.length === 0;
    for (const name of ahead) {
      const path = join(this.#dir, name);
      const ticket = this.#files.read(path);
      if (!ticket) continue;
      if (!this.#files.abandoned(ticket)) return false;
      this.#files.removeAbandoned(path, ticket);
    }
    return true;
  }

  /** Gives the ticket up: the turn came, or the wait is over. */
  leave(): void {
    if (this.#ticket) unlinkQuiet(join(this.#dir, this.#ticket));
    this.#ticket = undefined;
  }
}

/**
 * True when ticket `a` came before ticket `b`: by the time in its name, then by name (the same millisecond: one
 * process's in the order taken, see `ticketId`; older versions' and other processes' in any order, but all agree).
 */
function before(a: string, b: string): boolean {
  const ta = Number(TICKET.exec(a)![1]);
  const tb = Number(TICKET.exec(b)![1]);
  return ta < tb || (ta === tb && a < b);
}
