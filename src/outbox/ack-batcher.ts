import { after, type Clock } from '../core/clock.js';
import { counted, SluiceError } from '../core/errors.js';

/** The most acks held back for more to join them: what a crash may send again beside the requests in flight. */
const GROUP = 16;
/** How long acks are held back at most, so that 'sent' events are not late behind slow requests. */
const HOLD_MS = 50;

/** What grouping acks needs. */
export interface AckBatcherOptions {
  readonly clock: Clock;
  /** True while more responses are on their way (requests in flight), whose acks may join those waiting. */
  readonly busy: () => boolean;
  /** Told once per commit that failed (an 'error' event), whose adds then each reject with the store's error. */
  readonly failed: (error: unknown) => void;
}

/**
 * Group commit for acks: ids added while a commit is running wait for it to end, then go together in the next
 * one. Responses arrive one by one; without this, each delivered task would cost a storage commit of its own.
 * Responses of requests in flight together arrive in separate turns of the event loop, so acks are also held back
 * while `busy()` (up to `GROUP` of them, `HOLD_MS` at most, or until `release`): a stream of responses commits its
 * acks a group at a time. Holding an ack only delays it: a crash meanwhile sends those tasks again, with the same
 * Idempotency-Key, and a task is never acked before its response is in.
 */
export class AckBatcher {
  readonly #commit: (ids: string[], leases: ReadonlyMap<string, object>) => Promise<ReadonlySet<string>>;
  readonly #options: AckBatcherOptions;
  /** The next commit: its ids, and the one promise of its outcome that every `add` among them gets (none per ack). */
  #next: Group | undefined;
  #running = false;
  #timer: (() => void) | undefined;

  constructor(commit: (ids: string[], leases: ReadonlyMap<string, object>) => Promise<ReadonlySet<string>>, options: AckBatcherOptions) {
    this.#commit = commit;
    this.#options = options;
  }

  /**
   * Resolves once `ids`, taken under `lease`, are committed (with whatever else was waiting): to the ids of the commit
   * left to others.
   */
  add(ids: readonly string[], lease: object): Promise<ReadonlySet<string>> {
    const next = (this.#next ??= group());
    next.ids.push(...ids);
    for (const id of ids) next.leases.set(id, lease);
    if (!this.#running) {
      if (next.ids.length >= GROUP || !this.#options.busy()) void this.#drain();
      else
        this.#timer ??= after(this.#options.clock, HOLD_MS, () => {
          this.#timer = undefined;
          this.release();
        });
    }
    // Still this group's: a drain started above takes it only after a microtask.
    return next.done;
  }

  /** Commits what is held back now (nothing more is on its way, or the outbox stops). */
  release(): void {
    if (!this.#running && this.#next) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#running = true;
    this.#timer?.();
    this.#timer = undefined;
    // A microtask first, so that everything settled in this tick joins the first commit.
    await Promise.resolve();
    while (this.#next) {
      const { ids, leases, resolve, reject } = this.#next;
      this.#next = undefined;
      try {
        resolve(await this.#commit(ids, leases));
      } catch (error) {
        // One commit, one failure: said once for the group (not once per response in it), then each add hears of it.
        this.#options.failed(ofAcks(error, ids.length));
        reject(error);
      }
    }
    this.#running = false;
  }
}

interface Group {
  readonly ids: string[];
  readonly leases: Map<string, object>;
  readonly done: Promise<ReadonlySet<string>>;
  readonly resolve: (left: ReadonlySet<string>) => void;
  readonly reject: (error: unknown) => void;
}

function group(): Group {
  let settle!: Pick<Group, 'resolve' | 'reject'>;
  const done = new Promise<ReadonlySet<string>>((resolve, reject) => (settle = { resolve, reject }));
  return { ids: [], leases: new Map(), done, ...settle };
}

/**
 * A failed ack commit's error as told: a store's failure (ERR_STORAGE, ERR_QUOTA_EXCEEDED) keeps its code, its message
 * naming how many delivered tasks the commit covered (`cause`: the store's error); any other error is told as it is.
 */
export function ofAcks(error: unknown, tasks: number): unknown {
  const code = error instanceof SluiceError ? error.code : undefined;
  if (code !== 'ERR_STORAGE' && code !== 'ERR_QUOTA_EXCEEDED') return error;
  return new SluiceError(
    code === 'ERR_QUOTA_EXCEEDED' ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE',
    `${(error as SluiceError).message} (the ack of ${counted(tasks, 'delivered task')}: made again in the background; one never made good is sent again after its lease, with the same Idempotency-Key)`,
    { cause: error },
  );
}
