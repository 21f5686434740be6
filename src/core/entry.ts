import type { Hold } from './holds.js';
import type { QueueEntry } from './queue-types.js';
import type { StoredItem } from './segments.js';

/** An entry as `list` and filters see it: `item` under `held`, tried `attempts` times; its value decoded when read. */
export function entryOf<T>(item: StoredItem, held: Hold | undefined, attempts: number, decode: (item: StoredItem) => T): QueueEntry<T> {
  let value: { v: T } | undefined;
  return {
    id: String(item.seq),
    get value() {
      value ??= { v: decode(item) };
      return value.v;
    },
    attempts,
    state: !held ? 'ready' : held.lease ? 'leased' : 'delayed',
    availableAt: held ? held.until : 0,
  };
}
