/**
 * Where one queue lives in Redis. Every key of a queue carries the queue's name as its hash tag (`{name}`), so a
 * Redis Cluster keeps them in one slot, on one node, and a commit script may touch them all atomically.
 *
 * - `v`: the version token of the last commit (absent before the first);
 * - `m`: the metadata bytes;
 * - `l`: a hash of segment id -> length in bytes (which segments exist, and how long: one read lists them all);
 * - `s:<id>`: a segment's bytes; `bad:<id>`: a quarantined segment, kept for inspection;
 * - `c:<owner>`: the token of that handle's last applied commit, so that a replayed commit is recognised;
 * - `h:<owner>`: that handle's heartbeat, which expires when the handle's process is gone;
 * - `g:<owner>`: left when a handle judged that owner gone, so that it never comes back as that owner;
 * - `w`: the pub/sub channel on which every commit is announced;
 * - `t`: the handle whose commit goes next, after its commits lost races in a row (see COMMIT in scripts.ts);
 * - `b:<key>`: a blob's bytes (an outbox's large bodies); `bk`: the set of blob keys, so listing needs no SCAN;
 * - `j`: the replication id of the primary that judges owners gone, and since when (see GONE in scripts.ts);
 * - `o`: the queue's mark, made by the first beat of an open and never expiring: an empty queue may have no other key
 *   (no commit yet, its heartbeats gone), and `RedisStore.exists` must still tell that it was made.
 */
export class QueueKeys {
  readonly version: string;
  readonly meta: string;
  readonly lengths: string;
  readonly channel: string;
  readonly turn: string;
  readonly opened: string;
  readonly #base: string;

  constructor(prefix: string, name: string) {
    this.#base = `${prefix}{${name}}:`;
    this.version = `${this.#base}v`;
    this.meta = `${this.#base}m`;
    this.lengths = `${this.#base}l`;
    this.channel = `${this.#base}w`;
    this.turn = `${this.#base}t`;
    this.opened = `${this.#base}o`;
  }

  segment(id: number): string {
    return `${this.segmentPrefix}${id}`;
  }

  /** What every segment key starts with: the load script appends the ids it lists (same hash tag, same slot). */
  get segmentPrefix(): string {
    return `${this.#base}s:`;
  }

  quarantined(id: number): string {
    return `${this.#base}bad:${id}`;
  }

  lastCommit(owner: string): string {
    return `${this.#base}c:${owner}`;
  }

  heartbeat(owner: string): string {
    return `${this.#base}h:${owner}`;
  }

  gone(owner: string): string {
    return `${this.#base}g:${owner}`;
  }

  blob(key: string): string {
    return `${this.#base}b:${key}`;
  }

  get blobIndex(): string {
    return `${this.#base}bk`;
  }

  get judging(): string {
    return `${this.#base}j`;
  }
}
