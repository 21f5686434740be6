import type { Clock } from './clock.js';
import type { CommitView } from './commit-view.js';
import { SluiceError } from './errors.js';
import { MetaLog } from './meta-log.js';
import { MOVED } from './segments.js';
import type { HeldStorage, StorageSnapshot } from './store.js';

/** Loads in a row whose tail moved on before it was read, before the store is taken for one that loses data. */
const MAX_RELOADS = 8;

/** The ids of the items `view` holds unacked, in order. */
function unackedIds(view: CommitView): string[] {
  const { state } = view;
  const ids: string[] = [];
  for (let seq = state.acked.endOf(state.head), end = view.next; seq < end; seq = state.acked.endOf(seq + 1)) ids.push(String(seq));
  return ids;
}

/** What a reload found wrong with the metadata. */
export type MetaTrouble = 'unreadable' | 'missing' | 'damaged' | undefined;

/**
 * How a view (`CommitView`) reads its queue's storage, and how far it has: the store's token it is current at, and
 * the metadata log's place, so that a reload reads only the records appended since. A commit moves both on as well:
 * the view then holds what it wrote, and is current without reading it back.
 */
export class ViewReader {
  /** The store's token the view is current at; '' when it is to be read again, whole. */
  token = '';
  /** The metadata as far as the view read or wrote it. */
  readonly log = new MetaLog();
  /** The highest `next` the view has seen (see `CommitView.highWater`). */
  highWater = 0;
  readonly #view: CommitView;
  readonly #name: string;
  readonly #clock: Clock;
  /** The store said it went back, and no load since was taken in whole (see `load`). */
  #rewound = false;

  constructor(view: CommitView, name: string, clock: Clock) {
    this.#view = view;
    this.#name = name;
    this.#clock = clock;
  }

  /** Reads `storage` again: the metadata's new records (or all of it), and the segments' listing and tail. */
  async load(storage: HeldStorage): Promise<void> {
    const view = this.#view;
    for (let tries = 1; ; tries++) {
      const snapshot = await storage.load();
      // Gone back: bytes read before may have been rewritten since, under the same names and lengths. Kept in mind
      // until a load is taken in whole: a store says so once, and a read that fails after it must not lose that.
      // Deleted under the queue: what it held is lost, told by what this view knew of it before taking in the new state.
      if (snapshot.remade) view.gone = (view.gone ?? []).concat(unackedIds(view));
      if (snapshot.rewound || snapshot.remade) {
        this.#rewound = true;
        view.rewinds++;
      }
      if (this.#rewound) this.log.reset();
      let moved: boolean;
      try {
        moved = await this.#adopt(snapshot);
      } catch (error) {
        view.invalidate();
        throw error;
      }
      // The token is adopted only once the tail is read too: a view that took it with a tail read short would
      // plan its next push over items it never saw, and the store would take that commit as current.
      if (!moved) {
        // Every number read is one given out: a store gone back below it (a failover to a replica behind) lost it,
        // which a handle that only read (listed, took) must tell too, and never give out again.
        this.highWater = Math.max(this.highWater, view.next);
        this.#rewound = false;
        this.token = snapshot.token;
        view.loads++;
        return;
      }
      // Another handle removed or cut the tail between the listing and its read (acked it all, say): the state
      // read with that listing may name items the read did not find, which is no loss. Read both again.
      view.invalidate();
      if (tries === MAX_RELOADS) {
        throw new SluiceError(
          'ERR_STORAGE',
          `The tail segment of queue "${this.#name}" read back shorter than the store listed it, ${tries} times in a row: the store does not keep what it lists.`,
        );
      }
    }
  }

  /** Takes `snapshot` in; true when its tail had moved on by the time it was read (see load). */
  async #adopt(snapshot: StorageSnapshot): Promise<boolean> {
    const view = this.#view;
    // The segments first: reading what the tail gained can fail, and then the view must be as it was, whole. A state
    // newer than its segments would name items the view cannot find, and a plan made on it (the next operation's,
    // before the store says the view is stale) would take them for lost.
    const damage = await view.segments.refresh(snapshot.segments, this.#rewound, snapshot.tail);
    if (damage === MOVED) return true;
    const read = this.log.read(snapshot.meta, view.state, this.#clock.now());
    view.state = read.state;
    // The first segment listed or, with none left, the newest the last commit recorded (a drained queue's floor, see
    // `Segments.floorAfter`, removed with the metadata by a cleaner of old files): the queue lived, and its metadata
    // is gone. Nothing can be stored below it: a state that was lost starts there.
    const first = snapshot.segments[0] ?? snapshot.tail;
    const missing = !snapshot.meta && first !== undefined;
    if (first && view.state.head < first.id && (read.unreadable || missing)) view.state.head = first.id;
    // The partition count went with it: 0 says so, where nothing recorded would pass for a queue of one partition.
    if (read.unreadable || missing) view.state.partitions = 0;
    view.damage = damage;
    this.highWater = Math.max(this.highWater, view.state.floor);
    const recorded = snapshot.tail;
    const listed = recorded && snapshot.segments.find((s) => s.id === recorded.id);
    const newest = snapshot.segments[snapshot.segments.length - 1];
    // Only when it is still the newest (or gone, with nothing newer): a newer segment means commits came after it.
    view.missing =
      recorded && (listed?.length ?? 0) < recorded.length && (!newest || newest.id <= recorded.id)
        ? { segment: recorded.id, bytes: recorded.length - (listed?.length ?? 0) }
        : undefined;
    view.trouble = read.unreadable ? 'unreadable' : missing ? 'missing' : read.damaged ? 'damaged' : undefined;
    return false;
  }

  /**
   * Forgets how far the view was read: it may hold ops the store never took, so the next reload reads the store
   * whole (not only what was appended since).
   */
  forget(): void {
    this.token = '';
    this.log.reset();
  }
}
