import { randomId } from '../core/ids.js';
import type { Queue } from '../core/queue.js';
import type { Serial } from '../core/serial.js';
import type { Deliverer } from './deliverer.js';
import { relearn } from './gone.js';
import type { Notices } from './notices.js';
import type { OrphanBodies } from './orphan-bodies.js';
import type { Pending, PendingIndex } from './pending.js';
import type { PendingStore } from './pending-store.js';
import type { StoredTask } from './task.js';

/** How long `remove` waits for the handles holding tasks it names to answer (see `Removal`). */
const ANSWER_MS = 250;

/** What removing needs of the outbox. */
export interface RemovalContext {
  readonly queue: Queue<StoredTask>;
  readonly index: PendingIndex;
  readonly pending: PendingStore;
  readonly serial: Serial;
  /** Gives back what this handle took ahead (`recall`), relays to other handles, and says whether any may hear. */
  readonly deliverer: Pick<Deliverer, 'recall' | 'post' | 'relays'>;
  /** Deletes the stored bodies of removed tasks that no dead letter names. */
  readonly orphans: Pick<OrphanBodies, 'forget'>;
  readonly notices: Pick<Notices, 'changed' | 'drain' | 'epoch'>;
  readonly closing: () => boolean;
  /** Says in an 'error' event what failed where no call of the user's can reject with it. */
  readonly tellError: (error: unknown) => void;
}

interface Ask {
  /** The entries no answer named yet. */
  readonly open: Set<string>;
  /** Those an answer named: removed there, or in flight. */
  readonly answered: Set<string>;
  removed: number;
  readonly done: () => void;
}

/**
 * `remove`, here and across handles. A task another handle took ahead of its request (behind its group's head in
 * flight there, or buffered for a free slot) is pending, but leased there, so this handle cannot remove it: it asks
 * the handles it hears ('withdraw'), and the one holding the task removes it as its own `remove` would, and answers
 * ('withdrawn'), naming too those whose request is out there (their response decides). The asker waits for answers
 * that name every such task, at most `ANSWER_MS` (a handle in another process, or a tab closed with its lease still
 * standing, never answers), then tries once more itself: a task given back meanwhile is free to remove.
 */
export class Removal {
  readonly #c: RemovalContext;
  readonly #asks = new Map<string, Ask>();
  readonly #me = randomId();
  #asked = 0;

  constructor(context: RemovalContext) {
    this.#c = context;
  }

  /** Removes the pending tasks with these ids that are not in flight; resolves how many were removed. */
  async remove(ids: readonly string[]): Promise<number> {
    const { index, pending } = this.#c;
    const here = await this.#removeHere(async () => {
      // Read first: one another handle stored since (another process, say) is not indexed yet, and after the store went
      // back, an entry read before may hold another task now (see `PendingStore.catchUp`), which must not go with it.
      await pending.catchUp();
      return ids.flatMap((id) => index.withId(id));
    });
    if (here.elsewhere.length === 0 || !this.#c.deliverer.relays) return this.#emptied(here.count);
    const { removed, answered } = await this.#ask(here.elsewhere);
    // Those no answer took care of: perhaps given back meanwhile (heard as 'released', they are ready here now), or
    // still held elsewhere, which the queue's removal of unleased entries passes over. Not once the outbox closes.
    const again = await this.#removeHere(() => (this.#c.closing() ? [] : here.elsewhere.filter((p) => !answered.has(String(p.seq)) && index.get(p.seq) === p && p.state !== 'busy')));
    return this.#emptied(here.count + removed + again.count);
  }

  /**
   * 'drained' when the removed were the last pending tasks, as when the last is sent or dead: a stopped outbox never
   * looks again, a started one only once its next delay ends. Resolves `count`: the removal stands, whatever the read.
   */
  async #emptied(count: number): Promise<number> {
    const { queue, index, notices } = this.#c;
    const epoch = notices.epoch;
    if (count > 0 && index.size === 0 && !this.#c.closing() && (await queue.size().catch(this.#c.tellError)) === 0) notices.drain(epoch, index.gone.owed);
    return count;
  }

  /** Another handle asks this one to remove tasks it holds ('withdraw'), or answers such an ask of this one ('withdrawn'). */
  heard(type: 'withdraw' | 'withdrawn', detail: object): void {
    const { ask, entries, ids, removed, inFlight } = detail as Record<string, unknown>;
    if (typeof ask !== 'string') return;
    if (type === 'withdraw') {
      if (Array.isArray(entries) && Array.isArray(ids)) void this.#withdraw(ask, entries, ids).catch(this.#c.tellError);
      return;
    }
    const asked = this.#asks.get(ask);
    if (!asked || !Array.isArray(removed) || !Array.isArray(inFlight)) return;
    for (const entry of [...removed, ...inFlight]) {
      if (typeof entry !== 'string' || !asked.open.delete(entry)) continue;
      asked.answered.add(entry);
      if (removed.includes(entry)) asked.removed++;
    }
    if (asked.open.size === 0) asked.done();
  }

  /**
   * Removes the tasks `chosen` picks (in the outbox's serialiser), but those in flight here (those taken ahead of their
   * request are given back first, see `recall`) and those another handle holds: `elsewhere`, still indexed.
   */
  async #removeHere(chosen: () => Pending[] | Promise<Pending[]>, told?: (entries: string[]) => void): Promise<{ count: number; elsewhere: Pending[] }> {
    const { queue, index } = this.#c;
    const { count, bodies, entries, elsewhere } = await this.#c.serial(async () => {
      const named = await chosen();
      await this.#c.deliverer.recall(named);
      const asked = named.filter((p) => p.state !== 'busy');
      if (asked.length === 0) return { count: 0, bodies: [], entries: [], elsewhere: [] };
      const seqs = asked.map((p) => String(p.seq));
      const count = await queue.remove(seqs, { leased: false });
      // Those this call did not remove went by another handle's doing, whose word on them may come after (see `Gone`).
      const gone = relearn(index, asked, count < asked.length ? await queue.list({ ids: seqs }) : []);
      const elsewhere = asked.filter((p) => index.get(p.seq) === p && p.cause === 'lease');
      return { count, bodies: gone.flatMap((p) => (p.blob === undefined ? [] : [p.blob])), entries: gone.map((p) => String(p.seq)), elsewhere };
    });
    // Other handles find out at once (not only when they next take them): a tab hiding must not send them.
    if (entries.length > 0) this.#c.deliverer.post({ type: 'removed', detail: { entries } });
    told?.(entries);
    if (count > 0) this.#c.notices.changed();
    // Their bodies after them (a crash between leaves a body no task names, which the next open's sweep deletes), but
    // only those no dead letter names: another handle may have moved one of them to dead meanwhile.
    await this.#c.orphans.forget(bodies);
    return { count, elsewhere };
  }

  /** Asks the other handles to remove `held`; resolves once every one is answered for, or after `ANSWER_MS`. */
  #ask(held: readonly Pending[]): Promise<{ removed: number; answered: Set<string> }> {
    const ask = `${this.#me}-${++this.#asked}`;
    return new Promise((resolve) => {
      const asked: Ask = {
        open: new Set(held.map((p) => String(p.seq))),
        answered: new Set(),
        removed: 0,
        done: () => {
          clearTimeout(timer);
          this.#asks.delete(ask);
          resolve(asked);
        },
      };
      // Real time, whatever the outbox's clock: what it waits for is a message from another handle. Not unref'd: a
      // script whose last work is this `remove` would exit with it unsettled, and nothing after it run.
      const timer = setTimeout(asked.done, ANSWER_MS);
      this.#asks.set(ask, asked);
      this.#c.deliverer.post({ type: 'withdraw', detail: { ask, entries: [...asked.open], ids: held.map((p) => p.id) } });
    });
  }

  /** Removes, of the tasks another handle asks for, those this handle took ahead of their request; answers for all it holds. */
  async #withdraw(ask: string, entries: readonly unknown[], ids: readonly unknown[]): Promise<void> {
    let inFlight: string[] = [];
    const held = () => {
      // Held here: taken by this handle, and the very task the asker names (its entry, and its id).
      const mine = entries.flatMap((e, i) => {
        const p = typeof e === 'string' ? this.#c.index.get(Number(e)) : undefined;
        return p?.state === 'busy' && p.id === ids[i] ? [p] : [];
      });
      inFlight = mine.filter((p) => !p.ahead).map((p) => String(p.seq));
      return mine.filter((p) => p.ahead);
    };
    // Answered before the bodies are deleted (that may take a while): the asker waits for it.
    const answer = (removed: string[]) => removed.length + inFlight.length > 0 && this.#c.deliverer.post({ type: 'withdrawn', detail: { ask, removed, inFlight } });
    await this.#removeHere(held, answer);
  }
}
