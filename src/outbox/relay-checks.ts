import type { Clock } from '../core/clock.js';
import type { QueueEntry } from '../core/queue-types.js';
import type { Queue } from '../core/queue.js';
import type { Serial } from '../core/serial.js';
import type { Relayed } from './coordination.js';
import { checkStored } from './pending-task.js';
import { LIST_PAGE } from './pending-view.js';
import { hear, type HearingContext } from './relayed.js';
import type { StoredTask } from './task.js';

/** What hearing other handles, and checking their word, needs of the outbox. */
export interface RelayCheckContext extends Omit<HearingContext, 'checks'> {
  readonly queue: Queue<StoredTask>;
  readonly serial: Serial;
  readonly clock: Clock;
  readonly closing: () => boolean;
}

/** A task another handle said left the outbox: the event to say once the store confirms it, if any. */
interface Said {
  readonly type: 'sent' | 'dead' | 'handed-over' | undefined;
  readonly detail: object;
}

/** How long before an entry still leased (its holder's ack not in yet), or a read that failed, is looked at again. */
const RECHECK_MS = 5_000;

/**
 * Other handles' word that tasks left the outbox ('sent', 'dead', 'handed-over', 'removed'), held until the store
 * confirms it. The channel is no proof: a stray or forged message, or a handle whose ack turned out not committed,
 * may name a task still stored. What the index held (parked) or, for a removal, dropped on that word is looked up, in
 * one read for all the entries heard meanwhile (at most one read at a time): gone, it leaves the index and the event
 * is said (remote); stored and free, it goes on in its place, or joins the index again (looked into for a cut-short
 * burial at its take), and nothing is said; leased (its holder's ack may be on its way), it is looked at again later.
 * A flush waits for what is being checked.
 */
export class RelayChecks {
  readonly #c: RelayCheckContext;
  /** By entry, what was said of it: the first word that has an event (a message said twice is one event). */
  readonly #said = new Map<string, Said>();
  /** Entries found leased in the check running: not read again before the next one. */
  readonly #held = new Set<string>();
  #checking: Promise<void> | undefined;
  /** A check is due at the end of this turn. */
  #soon = false;
  /** When entries still leased (or a read that failed) are looked at again. */
  #timer: unknown;

  constructor(context: RelayCheckContext) {
    this.#c = context;
  }

  /** Hears what other handles relay (see `hear`). */
  hear(messages: readonly Relayed[]): void {
    hear({ ...this.#c, checks: this }, messages);
  }

  /** Another handle said entry `entry` left as `type` (undefined: removed, nothing to say but 'change'). */
  heard(entry: string, type: Said['type'], detail: object): void {
    if (this.#said.get(entry)?.type === undefined) this.#said.set(entry, { type, detail });
    // Once the messages of this batch are all heard: one read for them (a check running reads them next).
    if (this.#soon || this.#checking) return;
    this.#soon = true;
    queueMicrotask(() => {
      this.#soon = false;
      this.#clear();
      void this.#check();
    });
  }

  /** Resolves once what was heard before the call has been checked (as far as the store could say). */
  async settled(): Promise<void> {
    while (this.#checking) await this.#checking;
    if (this.#said.size === 0 || this.#c.closing()) return;
    this.#clear();
    await this.#check();
  }

  #arm(ms: number): void {
    this.#clear();
    const timer = this.#c.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#check();
    }, ms);
    (timer as { unref?: () => void } | undefined)?.unref?.();
    this.#timer = timer;
  }

  #clear(): void {
    if (this.#timer !== undefined) this.#c.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check(): Promise<void> {
    if (this.#checking) return this.#checking;
    const run = (async () => {
      let failed = false;
      while (!failed && !this.#c.closing()) {
        const entries = [...this.#said.keys()].filter((e) => !this.#held.has(e)).slice(0, LIST_PAGE);
        if (entries.length === 0) break;
        try {
          const found = await this.#c.queue.list({ ids: entries });
          await this.#c.serial(() => this.#apply(entries, found));
        } catch {
          failed = true;
        }
      }
      this.#held.clear();
    })().finally(() => {
      this.#checking = undefined;
      // Entries still leased, or a read that failed: looked at again later.
      if (this.#said.size > 0 && !this.#c.closing()) this.#arm(RECHECK_MS);
    });
    this.#checking = run;
    return run;
  }

  #apply(entries: readonly string[], found: readonly QueueEntry<StoredTask>[]): void {
    const { index, emit } = this.#c;
    const stored = new Map(found.map((e) => [e.id, e]));
    let changed = false;
    let back = false;
    for (const entry of entries) {
      const e = stored.get(entry);
      if (e?.state === 'leased') {
        this.#held.add(entry);
        continue;
      }
      const said = this.#said.get(entry);
      this.#said.delete(entry);
      const held = index.get(Number(entry));
      if (!e) {
        // Gone: what was said holds.
        if (held?.state === 'parked') index.remove(held);
        if (said?.type) emit(said.type, { ...said.detail, remote: true });
        changed ||= said?.type !== undefined || held !== undefined;
        continue;
      }
      if (held) {
        // Held on the word alone: it goes on in its place, with what its last attempt got.
        if (held.state === 'parked') index.unpark([held]);
        back = true;
        continue;
      }
      try {
        checkStored(e.value, this.#c.queue.name, e.id);
      } catch {
        continue;
      }
      // Still stored, and free: it never left (or its ack was lost). Read back, and looked into at its take.
      const pending = index.add(Number(entry), e.value, e.attempts, e.state === 'delayed' ? e.availableAt : 0, 'server');
      pending.heldAway = true;
      back = true;
    }
    if (changed || back) emit('change');
    // Tasks left too: the loop looks again, and finds the index it emptied so (its emptiness check: 'drained').
    if (back || changed) this.#c.kick();
  }
}
