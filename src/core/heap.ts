/** A binary min-heap under `before` (negative: `a` comes out first). */
export class Heap<T> {
  #items: T[] = [];
  readonly #before: (a: T, b: T) => number;

  constructor(before: (a: T, b: T) => number) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#before(items[parent]!, items[i]!) <= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      let m = i;
      if (l < items.length && this.#before(items[l]!, items[m]!) < 0) m = l;
      if (l + 1 < items.length && this.#before(items[l + 1]!, items[m]!) < 0) m = l + 1;
      if (m === i) break;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
    return top;
  }

  /**
   * Keeps only the entries `keep` accepts, and of those one per `key` (when given), once the heap holds more than a
   * sweep lets stand beside `live` items: twice as many, and 64. Entries that go stale are skipped when popped; a heap
   * whose items are not popped (a handle that never takes) is kept bounded this way, at amortised O(log n) an item.
   */
  sweep(live: number, keep: (item: T) => boolean, key?: (item: T) => unknown): void {
    if (this.#items.length <= 64 + 2 * live) return;
    const seen = new Set<unknown>();
    this.filter((item) => keep(item) && (!key || (!seen.has(key(item)) && seen.add(key(item)) !== undefined)));
  }

  /** Keeps only the items `keep` accepts (a sweep of entries gone stale). */
  filter(keep: (item: T) => boolean): void {
    const kept = this.#items.filter(keep);
    this.#items = [];
    for (const item of kept) this.push(item);
  }
}
