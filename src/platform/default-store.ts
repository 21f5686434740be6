import type { Store } from '../core/store.js';

/**
 * A subclass of `base` (`Queue` or `Outbox`) with `defaultStore` set, for the platform entries. Made by a call the
 * entries mark pure, so a bundler drops the class, and all it pulls in, when the app never uses it: an app that
 * imports only `Queue` does not ship the Outbox. `statics` sets what else the platform decides (whether fetch streams
 * request bodies).
 */
export function withDefaultStore<C extends object>(base: C, store: () => Store, statics: { readonly streamBodies?: boolean } = {}): C {
  const Base = base as unknown as new (...args: never[]) => object;
  const Platform = class extends Base {
    static defaultStore = store;
  };
  // Named as its base: what a console, a stack trace or `queue.constructor.name` shows.
  Object.defineProperty(Platform, 'name', { value: Base.name });
  return Object.assign(Platform, statics) as unknown as C;
}
