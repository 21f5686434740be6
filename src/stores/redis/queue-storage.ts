import type { Cluster, Redis } from 'ioredis';
import { randomId } from '../../core/ids.js';
import { SluiceError } from '../../core/errors.js';
import type { QueueStorage, StorageBatch, StorageSnapshot } from '../../core/store.js';
import { attempt, GOODBYE_MS, sleep, within, type Link } from './attempt.js';
import { RedisBlobs } from './blobs.js';
import { GONE_TTL_MS, type Beat, type Heartbeats } from './heartbeat.js';
import { loadListing, segmentsOf } from './listing.js';
import type { QueueKeys } from './keys.js';
import type { ResolvedRedisOptions } from './options.js';
import { lastCommitTtlMs, runCommit, unconfirmed } from './commit-run.js';
import { INITIAL_TOKEN, generationOf, type ScriptedClient } from './scripts.js';
import type { Watches } from './watch.js';

/** What a queue's storage needs from its store. */
export interface StoreContext extends Link {
  readonly client: Redis | Cluster;
  readonly scripts: ScriptedClient;
  readonly options: ResolvedRedisOptions;
  readonly heartbeats: Heartbeats;
  readonly watches: Watches;
  /** Whether the server's eviction policy (`allkeys-*`) may take any of the queue's keys. */
  evicts(): Promise<boolean>;
  /** How many replicas a 'strict' commit waits for (warning once when 'strict' cannot be honoured). */
  strictReplicas(): Promise<number>;
  /** This handle closed. */
  closed(storage: RedisQueueStorage): Promise<void>;
  /** How many times the client reconnected so far. */
  reconnections(): number;
  /** When the client last reconnected (`performance.now()`; -Infinity before any reconnection). */
  reconnectedAt(): number;
  /** Commits that add bytes run at maxmemory too (see `OpenHints`). */
  readonly writesWhenFull: boolean;
}

/** How long another handle, once seen alive, is taken to be alive without asking again. */
const ALIVE_CACHE_MS = 1000;
/** Owners known alive past which those whose word is out of date are dropped. */
const ALIVE_CACHED = 64;
const OWNER = /^[0-9a-f]{16}$/;
const EMPTY = new Uint8Array(0);

/** One queue in Redis, as opened by one handle (see keys.ts for the layout, scripts.ts for the commit). */
export class RedisQueueStorage implements QueueStorage {
  #owner = randomId();
  readonly blobs: RedisBlobs;
  readonly #name: string;
  readonly #keys: QueueKeys;
  readonly #context: StoreContext;
  #commits = 0;
  /** Commits lost to other handles' in a row: from the second, the next one takes the queue's turn (see COMMIT). */
  #lost = 0;
  /** The client's reconnections as of this handle's last load. */
  #loadedAt: number;
  /** `run_id/replid` of the server that answered this handle's last load (undefined before the first). */
  #server: string | undefined;
  /** The generation of the queue's history this handle last loaded (see `generationOf`). */
  #generation: string | undefined;
  /** The last load found the queue's data without its version key (lost alone): not a queue to create. */
  #orphaned = false;
  /**
   * The next load looks for segments the list does not name (see `loadListing`'s `merge`): a commit would have written
   * over one, or is the queue's creation where keys are evicted (once: `#looked`). Counted: one found again and again
   * is a failure, not a race.
   */
  #relist = 0;
  #relisting: Promise<void> | undefined;
  #looked = false;
  /** The run_id of the server this handle last saw (a load, or a judgement of `isGone`), and since when. */
  #judge: { server: string; since: number } | undefined;
  readonly #alive = new Map<string, number>();

  constructor(name: string, keys: QueueKeys, context: StoreContext) {
    this.#name = name;
    this.#keys = keys;
    this.#context = context;
    this.blobs = new RedisBlobs(name, keys, context);
    this.#loadedAt = context.reconnections();
  }

  /**
   * Random per handle: its heartbeat key and its leases carry it. A new one once other handles judged this one gone
   * (its heartbeat expired: a stall, a cut connection): they took its leases back, and would take any later lease
   * under the old name back too.
   */
  get owner(): string {
    return this.#owner;
  }

  /** Starts the heartbeat: the handle is alive before it can lease anything. */
  async start(): Promise<void> {
    await this.#call('open', () => this.#context.heartbeats.start(this.#beat()));
  }

  #beat(): Beat {
    const owner = this.#owner;
    return {
      key: this.#keys.heartbeat(owner),
      tombstone: this.#keys.gone(owner),
      judging: this.#keys.judging,
      mark: this.#keys.opened,
      gone: () => {
        if (this.#owner === owner) this.#owner = randomId();
        return this.#beat();
      },
    };
  }

  /**
   * A commit found `owner` judged gone, and wrote nothing: unless a beat found it first, the handle goes on under a
   * new owner, whose heartbeat is made before the commit is planned again (the caller takes it for a lost race).
   */
  async #judgedGone(owner: string): Promise<void> {
    if (this.#owner !== owner) return;
    const { heartbeats } = this.#context;
    const beat = this.#beat();
    heartbeats.stop(beat.key);
    // As a beat that found it gone goes on: under the name `gone` gives, once.
    const renewed = beat.gone();
    await this.#call('renew the heartbeat', () => heartbeats.start(renewed, true));
  }

  async load(): Promise<StorageSnapshot> {
    await this.#relisting;
    const merge = this.#relist > 0;
    const reply = await this.#call('load', () => loadListing(this.#context.client, this.#context.scripts, this.#keys, !!this.#generation, merge));
    const { segments, tail } = segmentsOf(reply);
    // Another server process or replication id than at the last load, or a reconnection since: a server restarted
    // from an older snapshot, a replica that lagged and took over, or the same process made its replica (its data
    // replaced by a full sync) and promoted again (a Cluster failing over and back) holds an earlier state, and the
    // segments and metadata rewritten since differ from what this handle read. A Cluster node's failover is seen by
    // the first, as the client does not reconnect as a whole; a new connection's 'ready' came before its reply.
    const reconnections = this.#context.reconnections();
    const answered = reply[3]!.toString();
    // Or the queue's keys were deleted under it (FLUSHALL, a DEL of its keys) and made again: the same segment names
    // hold other items, and appending to what this handle read of them would cut those.
    // Not for the version key alone lost (evicted) over a queue still there: its history goes on (see `commit`).
    const token = reply[0]!.toString();
    const written = reply[2]!.toString() === '1' ? copy(reply[1]!) : undefined;
    this.#orphaned = token === INITIAL_TOKEN && (written !== undefined || segments.length > 0);
    const generation = token !== INITIAL_TOKEN ? generationOf(token) : this.#orphaned ? undefined : '';
    const remade = !!this.#generation && generation !== undefined && generation !== this.#generation;
    if (generation !== undefined) this.#generation = generation;
    const rewound = reconnections !== this.#loadedAt || (this.#server !== undefined && answered !== this.#server) || remade;
    this.#loadedAt = reconnections;
    this.#server = answered;
    this.#serverSeen(answered.split('/')[0]!);
    return { token, meta: written, segments, ...(tail && { tail }), ...(rewound && { rewound }), ...(remade && { remade }) };
  }

  /** The core found items in no listed segment: the segments the list lacks (lost alone) are listed, before the next load. */
  relist(): void {
    // Once: a user without SCAN, or a failure, leaves the loss to be reported as it was found.
    this.#relisting = loadListing(this.#context.client, this.#context.scripts, this.#keys, !!this.#generation, true).then(() => undefined, () => undefined);
  }

  async token(): Promise<string> {
    return (await this.#call('read the token', () => this.#context.client.get(this.#keys.version))) ?? INITIAL_TOKEN;
  }

  async read(segment: number, start: number, end: number): Promise<Uint8Array> {
    // GETRANGE's end is inclusive, and a negative end counts from the string's end: an empty range asks nothing.
    if (end <= start) return EMPTY;
    const bytes = await this.#call('read', () => this.#context.client.getrangeBuffer(this.#keys.segment(segment), start, end - 1));
    return copy(bytes);
  }

  async commit(token: string, batch: StorageBatch): Promise<string | undefined> {
    // Creating the queue where keys are evicted: its token, list and metadata may have gone with segments left, which a
    // write would go over or give ids again over (see `loadListing`). Looked for once, as a lost race would.
    if (token === INITIAL_TOKEN && !this.#looked) {
      this.#looked = true;
      if (await this.#context.evicts()) {
        this.#relist = 1;
        return undefined;
      }
    }
    const keys = this.#keys;
    const owner = this.#owner;
    // The new token names this handle and counts its commits: unique, so a replay of this commit is recognisable. It
    // carries the generation of the queue's history on, or starts one as it creates the queue. Where only the version
    // key was lost, the generation this handle knows goes on; one that knows none writes a token with none (as an
    // earlier version's), which no other handle takes for the queue made again.
    const generation = token !== INITIAL_TOKEN ? generationOf(token) : this.#generation || (this.#orphaned ? undefined : randomId());
    const next = `${generation === undefined ? '' : `${generation}/`}${owner}.${(++this.#commits).toString(36)}`;
    const { write, meta, metaAppend, remove = [], quarantine = [] } = batch;
    const args: (string | Buffer)[] = [keys.version, keys.meta, keys.lengths, keys.lastCommit(owner), keys.heartbeat(owner), keys.gone(owner), keys.turn];
    if (write) args.push(keys.segment(write.segment));
    for (const id of remove) args.push(keys.segment(id));
    for (const id of quarantine) args.push(keys.segment(id), keys.quarantined(id));
    const keyCount = args.length;
    args.push(token, next, keys.channel, owner, String(lastCommitTtlMs(this.#context.options.retryMs)));
    args.push(write ? String(write.segment) : '', write ? String(write.offset) : '0', write ? buffer(write.bytes) : '');
    if (meta) args.push('set', '0', buffer(meta));
    else if (metaAppend) args.push('append', String(metaAppend.offset), buffer(metaAppend.bytes));
    else args.push('', '0', '');
    args.push(String(remove.length), String(quarantine.length), String(this.#context.options.ownerTtlMs), this.#lost >= 2 ? '1' : '0');
    args.push(...remove.map(String), ...quarantine.map(String));

    const wait = batch.durability === 'strict' ? await this.#context.strictReplicas() : 0;
    const result = await this.#call('commit', () => runCommit(this.#context, keyCount, args, wait, !write?.bytes.length || this.#context.writesWhenFull), wait > 0 ? this.#context.options.replicaTimeoutMs : 0);
    // Another handle's turn (see COMMIT): it commits in a moment, and the next plan is made on what it did.
    if (result.token === 'turn') await sleep(5);
    this.#lost = result.token === '' ? this.#lost + 1 : 0;
    this.#relist = result.token === 'relist' ? this.#relist + 1 : 0;
    if (this.#relist > 2) {
      this.#relist = 0;
      throw new SluiceError('ERR_STORAGE', `Queue "${this.#name}": segment ${write?.segment} holds bytes its list of segments does not name, even listed again.`);
    }
    if (result.token === '' || result.token === 'turn' || this.#relist > 0) return undefined;
    if (result.token === 'gone') {
      await this.#judgedGone(owner);
      return undefined;
    }
    // A client left in a transaction (MULTI) answers QUEUED and runs nothing: no commit may resolve on that.
    if (result.token !== next) throw new SluiceError('ERR_STORAGE', `Queue "${this.#name}": Redis answered a commit with ${JSON.stringify(result.token)}, not its token, so it may not have run: is the client inside a transaction (MULTI)?`);
    if (wait > 0 && result.acked < wait) throw unconfirmed(`Commit to queue "${this.#name}"`, wait, this.#context.options.replicaTimeoutMs, result, '; it may be lost if the primary fails now');
    if (generation !== undefined) this.#generation = generation;
    return result.token;
  }

  /** An old name's leases were taken back (see `#beat`); the current name's may be, once its refreshes lapse. */
  leasesInDoubt(owner: string): boolean {
    return owner !== this.#owner || this.#context.heartbeats.lapsed(this.#keys.heartbeat(owner));
  }

  watch(listener: () => void): () => void {
    return this.#context.watches.add(this.#keys.channel, this.owner, listener);
  }

  /** True once `owner`'s heartbeat key expired or was deleted by its close, for good (see GONE); judged on monotonic time. */
  async isGone(owner: string): Promise<boolean> {
    if (!OWNER.test(owner)) return false;
    const now = performance.now();
    if ((this.#alive.get(owner) ?? 0) > now) return false;
    const { ownerTtlMs } = this.#context.options;
    // Just reconnected, or served by another server than before without a reconnection (a Cluster node failed over),
    // perhaps to one that has been up a while: the other handles' beats may not have reached it yet. Nobody is judged
    // until they have had the time to.
    if (now - this.#context.reconnectedAt() < ownerTtlMs) return false;
    if (this.#judge && now - this.#judge.since < ownerTtlMs) return false;
    try {
      const gone = await this.#context.scripts.sluiceGone4(this.#keys.heartbeat(owner), this.#keys.gone(owner), this.#keys.judging, ownerTtlMs, this.#judge?.server ?? '', GONE_TTL_MS, Date.now());
      if (typeof gone === 'string') {
        this.#serverSeen(gone);
        return false;
      }
      if (gone === 1) return true;
      // Owners come and go in a fleet: those whose word is out of date are dropped, so that the map stays small.
      if (this.#alive.size >= ALIVE_CACHED) for (const [known, until] of this.#alive) if (until <= now) this.#alive.delete(known);
      this.#alive.set(owner, now + ALIVE_CACHE_MS);
      return false;
    } catch {
      // Unknown is not gone.
      return false;
    }
  }

  /**
   * `server` (a run_id) answered this handle: when it is not the one seen before, `isGone` judges nobody for
   * `ownerTtlMs` (the first one seen needs no wait: the handle has just opened, and the server was up as it did).
   */
  #serverSeen(server: string): void {
    if (this.#judge?.server === server) return;
    this.#judge = { server, since: this.#judge ? performance.now() : -Infinity };
  }

  async close(): Promise<void> {
    const { heartbeats, client } = this.#context;
    const heartbeat = this.#keys.heartbeat(this.owner);
    heartbeats.stop(heartbeat);
    try {
      // Bounded: close always settles, even on a server that stopped answering. Its leases were given back by the
      // queue's close: nobody needs to judge it gone, so it leaves no tombstone.
      await within(client.del(heartbeat, this.#keys.lastCommit(this.owner)), GOODBYE_MS, () => new Error('no answer'));
    } catch {
      // Unreachable: the heartbeat expires by itself within ownerTtlMs, the last commit's token after its TTL.
    } finally {
      await this.#context.closed(this);
    }
  }

  #call<T>(what: string, call: () => Promise<T>, graceMs = 0): Promise<T> {
    return attempt(`${what} queue "${this.#name}"`, this.#context.options.retryMs, this.#context, call, graceMs);
  }
}

/** A Buffer over the same memory (no copy): ioredis writes Buffers as they are. */
function buffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array copy: nothing keeps the socket's chunk alive, and Buffer's view-returning slice never leaks. */
function copy(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes);
}
