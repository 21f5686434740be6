import type { Clock } from './clock.js';
import { SluiceError } from './errors.js';
import { randomId } from './ids.js';
import type { QueueStorage } from './store.js';

/** How often a member says it is still taking, and how long after its last word it still counts. */
const RENEW_MS = 1000;
const TTL_MS = 3000;
/**
 * The soonest a member reads the list again after it met another handle on a partition of its own, or after it
 * joined: handles started together join together, and each learns of the others here rather than a renewal later.
 */
const RECHECK_MS = 50;
/** Commits that lose to other members' before this one gives up until its next turn (it takes all the same). */
const TRIES = 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Entry = readonly [id: string, until: number];

/**
 * The handles taking from a partitioned queue, so that each takes from partitions of its own first: with N members
 * of K partitions, the member ranked r (by id) has the partitions p with p % N = r (or r % K alone where N > K).
 * Handles that pick partitions by chance meet on them, and each meeting costs both a commit that loses and a reload;
 * members ranked alike by all never meet until their own partitions run dry. Kafka's consumer groups assign the same
 * way. A member joins at its first take and renews while it takes: one that stops (closed, crashed, or just idle)
 * drops out after `TTL_MS`, and the others share out its partitions.
 *
 * The list is the metadata of a storage of its own (`<queue>.pm`), replaced whole by a commit that checks the token,
 * so joins never overwrite one another. It only orders takes: a member that cannot read or write it takes all the
 * same, in an order of its own, and nothing is lost or doubled either way.
 */
export class Members {
  readonly #id = randomId();
  readonly #open: () => Promise<QueueStorage>;
  readonly #clock: Clock;
  #storage: Promise<QueueStorage> | undefined;
  #list: readonly Entry[] = [];
  #renewAt = -Infinity;
  #checkAt = -Infinity;
  #stale = false;
  #left = false;
  #turn = 0;
  /** A renewal or read under way: takes go on with the list as it was meanwhile. */
  #busy: Promise<void> | undefined;

  constructor(open: () => Promise<QueueStorage>, clock: Clock) {
    this.#open = open;
    this.#clock = clock;
  }

  /** The partitions of `count`, in the order this handle takes from them: its `own` first (starting with each in turn), then the others. */
  async order(count: number): Promise<{ order: number[]; own: number }> {
    const now = this.#clock.now();
    if (this.#renewAt === -Infinity) {
      await this.#write(now, true);
      this.#stale = true;
    } else if (!this.#busy && (now >= this.#renewAt || (this.#stale && now >= this.#checkAt))) {
      this.#busy = (now >= this.#renewAt ? this.#write(now, true) : this.#read(now)).finally(() => (this.#busy = undefined));
    }
    const live = this.#list.filter(([id, until]) => until > now && id !== this.#id).map(([id]) => id);
    // Counted in even where its last renewal has not landed: it is taking now.
    const ids = [...live, this.#id].sort();
    const n = ids.length;
    const rank = ids.indexOf(this.#id);
    const own: number[] = [];
    const others: number[] = [];
    for (let p = 0; p < count; p++) ((n > count ? p === rank % count : p % n === rank) ? own : others).push(p);
    const turn = this.#turn++;
    // The others from a point that moves: members whose own partitions ran dry do not all fill up at the same one.
    return { order: [...rotate(own, turn), ...rotate(others, turn + rank)], own: own.length };
  }

  /** Another handle committed to a partition of this one's: the list may have changed. */
  suspect(): void {
    this.#stale = true;
  }

  /** Leaves the list (others take its partitions at once, not after `TTL_MS`) and closes its storage. */
  async leave(): Promise<void> {
    this.#left = true;
    if (!this.#storage) return;
    try {
      await this.#busy;
      await this.#write(this.#clock.now(), false);
    } finally {
      await (await this.#storage.catch(() => undefined))?.close();
    }
  }

  /** Writes this member in (`stay`) or out, with the entries of others that are still live. */
  async #write(now: number, stay: boolean): Promise<void> {
    // Spread out: handles started together would otherwise renew together, each commit losing to another's.
    this.#renewAt = now + RENEW_MS * (0.75 + Math.random() / 2);
    try {
      const storage = await this.#opened();
      for (let i = 0; i < TRIES; i++) {
        const { token, meta } = await storage.load();
        const others = decode(meta).filter(([id, until]) => id !== this.#id && until > now);
        const list: Entry[] = stay ? [...others, [this.#id, now + TTL_MS]] : others;
        list.sort(([a], [b]) => (a < b ? -1 : 1));
        if ((await storage.commit(token, { meta: encoder.encode(JSON.stringify(list)), durability: 'relaxed' })) !== undefined) {
          this.#seen(now, list);
          return;
        }
      }
    } catch {
      // The order of takes only: a store that fails here fails the take itself, where it is reported.
    }
  }

  async #read(now: number): Promise<void> {
    try {
      const storage = await this.#opened();
      this.#seen(now, decode((await storage.load()).meta));
    } catch {
      // As in #write.
    }
  }

  /**
   * The list's storage, not watched: a member reads the list at each renewal anyway, so it learns of a join or a
   * leave within `RENEW_MS`, sooner when it meets another handle; watching would keep a subscription (on Redis, a
   * connection and a message per renewal of every member) for no more than that.
   */
  #opened(): Promise<QueueStorage> {
    return (this.#storage ??= this.#open().then(async (storage) => {
      // Opened as the queue closed: nothing may stay open after.
      if (this.#left) {
        await storage.close();
        throw new SluiceError('ERR_CLOSED', 'The queue closed.');
      }
      return storage;
    }));
  }

  #seen(now: number, list: readonly Entry[]): void {
    this.#list = list;
    this.#stale = false;
    this.#checkAt = now + RECHECK_MS;
  }
}

/** The entries `meta` holds; none when it holds nothing readable (never written, or not a list of entries). */
function decode(meta: Uint8Array | undefined): Entry[] {
  if (!meta || meta.length === 0) return [];
  try {
    const list: unknown = JSON.parse(decoder.decode(meta));
    if (!Array.isArray(list)) return [];
    return list.filter((e): e is Entry => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number');
  } catch {
    return [];
  }
}

function rotate<T>(list: readonly T[], by: number): T[] {
  if (list.length === 0) return [];
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
