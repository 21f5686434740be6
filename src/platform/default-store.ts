import type { Store } from '../core/store.js';

/**
 * A subclass of `base` (`Queue` or `Outbox`) with `statics` set: its `defaultStore`, and what else the platform
 * decides (whether fetch streams request bodies). For the platform entries, made by a call they mark pure, so a
 * bundler drops the class, and all it pulls in, when the app never uses it: an app that imports only `Queue` does not
 * ship the Outbox.
 */
export function withDefaultStore<C extends object>(base: C, statics: { readonly defaultStore: () => Store; readonly streamBodies?: boolean }): C {
  const Base = base as unknown as (new (...args: never[]) => object) & { open(options: unknown): unknown };
  // Named as its base (a class made as a property's value takes the property's name): what a console, a stack trace
  // or `queue.constructor.name` shows.
  const Platform = {
    [Base.name]: class extends Base {
      // Called detached (`const { open } = Queue`), `this` is undefined, and the base's `open` would have no class to
      // make: this one's. Called as a method (a subclass's too), it makes the class it is called on, as before.
      static override open(options: unknown): unknown {
        return Base.open.call(this ?? Platform, options);
      }
    },
  }[Base.name]!;
  return Object.assign(Platform, statics) as unknown as C;
}
