import type { Locks } from './writer-lock.js';

const ownerLock = (owner: string) => `sluice-owner:${owner}`;

/**
 * Owner locks: each handle holds the Web Lock `sluice-owner:<owner>` for its life, so that other handles can tell
 * it gone once it closes or its tab dies (its leases then come back before they expire), and hear when that
 * happens: asking for the lock of an owner still alive is granted once it has gone, and `gone` is called then, so
 * a consumer waiting for its leased items wakes at once rather than when the leases run out.
 */
export class Owners {
  readonly #locks: Locks;
  readonly #owner: string;
  readonly #gone: () => void;
  /** Settles once this handle closes: its owner lock is held until then. */
  readonly #held: Promise<void>;
  #release!: () => void;
  readonly #closed = new AbortController();
  readonly #watched = new Set<string>();

  constructor(locks: Locks, owner: string, gone: () => void) {
    this.#locks = locks;
    this.#owner = owner;
    this.#gone = gone;
    this.#held = new Promise<void>((resolve) => (this.#release = resolve));
    this.#hold();
  }

  /** Back from the back/forward cache (see page-restore.ts): the owner lock, and the watches, are asked for again. */
  restored(): void {
    this.#hold();
    // Watched again when next asked about (`isGone`), or named (`watch`).
    this.#watched.clear();
  }

  #hold(): void {
    void this.#locks.request(ownerLock(this.#owner), {}, () => this.#held).catch(() => undefined);
  }

  /** True when the handle named `owner` is certainly gone; while it lives, its going is watched. */
  async isGone(owner: string): Promise<boolean> {
    const name = ownerLock(owner);
    const { held = [], pending = [] } = await this.#locks.query();
    // Owners hold their lock exclusive; watchers (this handle's, other tabs') ask for it shared, and do not count.
    if (![...held, ...pending].some((lock) => lock.name === name && lock.mode !== 'shared')) return true;
    this.watch(owner);
    return false;
  }

  /** Calls `gone` once the handle named `owner` has gone (closed, or its context ended), unless already watched. */
  watch(owner: string): void {
    if (this.#watched.has(owner)) return;
    this.#watched.add(owner);
    void this.#locks.request(ownerLock(owner), { mode: 'shared', signal: this.#closed.signal }, () => undefined).then(
      () => {
        this.#watched.delete(owner);
        this.#gone();
      },
      () => undefined,
    );
  }

  close(): void {
    this.#closed.abort();
    this.#release();
  }
}
