import type { Serial } from '../core/serial.js';
import type { BodyStore } from './body-store.js';

/** What keeps bodies beside its tasks: the pending tasks, the dead letters. */
interface NamesBodies {
  bodyKeys(): Promise<Iterable<string>>;
}

/**
 * Deletes the request bodies stored beside tasks once nothing names them. Pending tasks and dead letters both name
 * bodies, and share them: a dead letter retried (here or in another handle) is pending with the same body, and two
 * copies of one retried letter share it. So a body goes only when neither names it.
 */
export class OrphanBodies {
  readonly #bodies: BodyStore;
  readonly #serial: Serial;
  readonly #pending: NamesBodies;
  readonly #dead: NamesBodies;

  /** `serial` is the outbox's: what it names does not change while a forget looks. */
  constructor(bodies: BodyStore, serial: Serial, pending: NamesBodies, dead: NamesBodies) {
    this.#bodies = bodies;
    this.#serial = serial;
    this.#pending = pending;
    this.#dead = dead;
  }

  /** Bodies a crash left without a task (stored, then the enqueue died; or the task gone, then the process). */
  sweep(): Promise<void> {
    return this.#bodies.sweep(() => this.#named());
  }

  /** Deletes the bodies `keys` of tasks or dead letters gone (removed, purged) that nothing names any more. */
  forget(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    return this.#serial(async () => {
      const named = await this.#named();
      await this.#bodies.delete(keys.filter((key) => !named.has(key)));
    });
  }

  /** The keys of the bodies pending tasks and dead letters keep beside them. */
  async #named(): Promise<Set<string>> {
    return new Set([...(await this.#pending.bodyKeys()), ...(await this.#dead.bodyKeys())]);
  }
}
