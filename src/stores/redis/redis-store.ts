import type { Cluster, Redis } from 'ioredis';
import type { Clock } from '../../core/clock.js';
import { messageOf, SluiceError } from '../../core/errors.js';
import { checkName } from '../../core/options.js';
import { opensUntracedBefore, type OpenHints, type QueueStorage, type Store } from '../../core/store.js';
import { answerMs, attempt, GOODBYE_MS, within } from './attempt.js';
import { evictionWarning, primaryAddresses, readDurability, strictPlan, type ServerDurability } from './durability.js';
import { Heartbeats } from './heartbeat.js';
import { ioredisClient, loadIoredis } from './ioredis.js';
import { QueueKeys } from './keys.js';
import { resolveRedisOptions, type RedisStoreOptions, type ResolvedRedisOptions } from './options.js';
import { RedisQueueStorage, type StoreContext } from './queue-storage.js';
import { scopeOf } from './scope.js';
import { defineScripts, type ScriptedClient } from './scripts.js';
import { ServerClock } from './server-clock.js';
import { Watches } from './watch.js';

/** How often the server's settings are asked for again, at most, while strict commits go on (see `#strictReplicas`). */
const RECHECK_MS = 1000;

/**
 * Keeps queues in Redis (standalone or Cluster), shared by every process that opens them: a fleet of Node
 * processes on several machines pushes to and drains one queue or outbox. Each commit is one Lua script that checks
 * the queue's version and writes data and metadata together; consumers wake through pub/sub; a process that dies
 * has its leases taken back within `ownerTtlMs`.
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' });
 * const queue = await Queue.open({ name: 'emails', store });
 */
export class RedisStore implements Store {
  /** What every key of this store starts with. */
  readonly prefix: string;
  /** Stores with the same prefix share its queues (on one server, as a fleet's processes do). */
  readonly scope: string;
  /**
   * The Redis server's time, carried forward on this process's monotonic clock between readings: the default `clock`
   * of the queues and outboxes opened on this store, so that machines whose clocks disagree judge one another's leases
   * and delays alike.
   */
  readonly clock: Clock;
  readonly #clock: ServerClock;
  readonly #o: ResolvedRedisOptions;
  readonly #heartbeats: Heartbeats;
  readonly #watches: Watches;
  readonly #open = new Set<RedisQueueStorage>();
  readonly #warned = new Set<string>();
  #client: Redis | Cluster | undefined;
  /** Calls of `exists` under way: their connection stays (see `exists`). */
  #looking = 0;
  #durability: Promise<ServerDurability | undefined> | undefined;
  /** Some primary was seen with a replica: strict commits wait for one from then on (see `strictPlan`). */
  #hadReplicas = false;
  /** When the settings were last asked for (monotonic), and whether they must be asked again (see `#strictReplicas`). */
  #readAt = 0;
  #recheck = false;
  /** Stops reading the server's settings again on each reconnection of the client. */
  #unwatchSettings: (() => void) | undefined;
  #closed = false;
  /** Reconnections of the client seen: after one, the server may be another, or the same gone back (see `load`). */
  #reconnections = 0;
  #reconnectedAt = -Infinity;
  /** The last error the client of the store's own told (its 'error' events), until it is ready again. */
  #connectionError: unknown;

  constructor(options: RedisStoreOptions) {
    // Before `exists`, an open left no key but for a day: an outbox's dead letters that never held one left none.
    opensUntracedBefore(this);
    this.#o = resolveRedisOptions(options);
    this.prefix = this.#o.prefix;
    this.scope = scopeOf(this.#o);
    this.clock = this.#clock = new ServerClock(() => this.#client, answerMs(this.#o.retryMs), (message) => this.#warn(message));
    // Told each time, never once per store: each outage of the heartbeats matters (see Heartbeats).
    this.#heartbeats = new Heartbeats(() => this.#connect(), this.#o.ownerTtlMs, (message) => this.#o.onWarning(message));
    // A Cluster duplicates into a Cluster, a Redis into a Redis: the cast only unites the two signatures.
    this.#watches = new Watches(() => (this.#connect() as Redis).duplicate(), (message) => this.#warn(message), answerMs(this.#o.retryMs), this.#o.ownerTtlMs);
  }

  /**
   * True once the queue `name` was opened under this prefix on this server, by any process: an open marks it
   * (`{name}:o`, which never expires), for an empty queue may hold no other key. A queue made by an earlier version,
   * which left no mark, is known by its token, metadata or list of segments, or, for a day after its last handle, by
   * the record its beats keep. Makes nothing: one `EXISTS` of keys in the queue's slot. A Queue and an Outbox ask
   * before they open, so that neither opens the other's queue.
   */
  async exists(name: string): Promise<boolean> {
    const client = await this.#ready(name);
    const keys = new QueueKeys(this.prefix, name);
    const link = { client, connectionError: () => this.#connectionError, storeClosed: () => this.#closed };
    this.#looking++;
    try {
      const found = await attempt(`look for queue "${name}"`, this.#o.retryMs, link, () => client.exists(keys.opened, keys.version, keys.meta, keys.lengths, keys.judging));
      return found > 0;
    } finally {
      this.#looking--;
      // An open usually follows at once, which keeps the connection; else it goes, as it would hold the process open.
      setTimeout(() => {
        if (this.#open.size === 0 && this.#looking === 0) void this.#disconnect();
      }, 0);
    }
  }

  /** The client to open or look for the queue `name` with, once the name is checked; ERR_CLOSED once the store is. */
  async #ready(name: string): Promise<Redis | Cluster> {
    checkName(name);
    const closed = () => new SluiceError('ERR_CLOSED', 'This RedisStore is closed; make a new one to open queues.');
    if (this.#closed) throw closed();
    if (!this.#o.client) await loadIoredis();
    // Closed while ioredis loaded: no client of its own is made after `close` (it would hold the process open).
    if (this.#closed) throw closed();
    return this.#connect();
  }

  async open(name: string, hints?: OpenHints): Promise<QueueStorage> {
    const client = await this.#ready(name);
    const context: StoreContext = {
      client,
      scripts: defineScripts(client) as ScriptedClient,
      options: this.#o,
      heartbeats: this.#heartbeats,
      watches: this.#watches,
      strictReplicas: () => this.#strictReplicas(),
      evicts: async () => (await this.#durability)?.eviction?.startsWith('allkeys-') === true,
      closed: (storage) => this.#release(storage),
      reconnections: () => this.#reconnections,
      reconnectedAt: () => this.#reconnectedAt,
      connectionError: () => this.#connectionError,
      storeClosed: () => this.#closed,
      writesWhenFull: hints?.writesWhenFull === true,
    };
    const storage = new RedisQueueStorage(name, new QueueKeys(this.prefix, name), context);
    this.#open.add(storage);
    try {
      await storage.start();
    } catch (error) {
      await this.#release(storage);
      throw error;
    }
    // Once the server answered (the heartbeat was written): its time, before the queue reads a deadline on it. Not
    // read within retryMs (an outage at open), the open fails: on this machine's clock, leases would be off elsewhere.
    try {
      await attempt(`read the server's time for queue "${name}"`, this.#o.retryMs, context, () => this.#clock.ready());
    } catch (error) {
      await storage.close();
      throw error;
    }
    // Closed while this handle started: `close` could not stop a heartbeat that was not yet running, and that
    // heartbeat would open a connection of its own, kept for good.
    if (this.#closed) {
      await storage.close();
      throw new SluiceError('ERR_CLOSED', 'This RedisStore was closed while the queue opened; make a new one to open queues.');
    }
    // What 'strict' can mean on this server, and whether it may evict the queue's keys: read once per client, in
    // the background (only strict commits wait for it), and again after each reconnection: a server restarted, or
    // failed over to another, may run with other settings.
    if (!this.#durability) {
      this.#readSettings(client);
      const reread = () => {
        if (this.#client !== client) return;
        this.#reconnections++;
        this.#reconnectedAt = performance.now();
        this.#readSettings(client);
        // A handle cut off for longer than ownerTtlMs learns it was judged gone before it commits again.
        this.#heartbeats.beat();
      };
      // The client is ready now (the heartbeat was written): any later 'ready' is a reconnection.
      client.on('ready', reread);
      // A Cluster client stays ready through a failover: its slot map, refreshed, lists a replica promoted, a server
      // of its own, with settings of its own.
      let written = primaryAddresses(client);
      const refreshed = () => {
        const now = primaryAddresses(client);
        if (this.#client !== client || now === written) return;
        written = now;
        this.#readSettings(client);
      };
      client.on('refresh', refreshed);
      this.#unwatchSettings = () => client.off('ready', reread).off('refresh', refreshed);
    }
    return storage;
  }

  /**
   * Closes every queue handle's connection state this store holds: heartbeats stop (and their keys are deleted, so
   * other processes take this one's leases back at once), the pub/sub connection closes, and a client the store
   * made from `url` disconnects. A `client` you gave stays open. Close the queues first: a queue used after its store
   * closed fails `ERR_CLOSED` (a `for await` waiting on one throws it).
   */
  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#open];
    await Promise.allSettled(open.map((storage) => storage.close()));
    await this.#disconnect();
    // A client you gave outlives the store: it keeps no listener of the store's.
    this.#unwatchSettings?.();
    this.#unwatchSettings = undefined;
  }

  #connect(): Redis | Cluster {
    if (this.#client) return this.#client;
    if (this.#o.client) return (this.#client = this.#o.client);
    // A client of our own: commands wait through a few reconnection attempts, then the store's own retry (retryMs)
    // decides; connection errors surface as rejected calls (the last kept to say why), so none is printed. A command the
    // server never answers (stopped, paused) times out too, heartbeats and cleanup included, after no less than a
    // call is given (a WAIT for replicas, after that too).
    const { retryMs, replicaTimeoutMs } = this.#o;
    // Loaded by `open`, the only way to a client of the store's own.
    const Client = ioredisClient();
    let client: Redis;
    try {
      // A primary demoted behind one endpoint (a failover behind a DNS name or a load balancer) answers every write
      // READONLY on the connections it keeps: reconnecting reaches the new primary, and the store's retry goes on.
      const readOnly = (error: Error) => /^READONLY\b/.test(error.message);
      client = new Client(this.#o.url!, { maxRetriesPerRequest: 3, commandTimeout: answerMs(retryMs) + replicaTimeoutMs, reconnectOnError: readOnly });
    } catch (error) {
      // The URL was checked when the store was made; what ioredis still refuses is named the same way.
      throw new SluiceError('ERR_INVALID_OPTION', `Expected \`url\` to be a Redis URL ioredis accepts (${messageOf(error)}).`, { cause: error });
    }
    client.on('error', (error: unknown) => (this.#connectionError = error));
    client.on('ready', () => (this.#connectionError = undefined));
    return (this.#client = client);
  }

  async #release(storage: RedisQueueStorage): Promise<void> {
    this.#open.delete(storage);
    // Nothing open: hold no connection, so that a process whose queues are closed can exit (but an `exists` waits on it).
    if (this.#open.size === 0 && this.#looking === 0) await this.#disconnect();
  }

  async #disconnect(): Promise<void> {
    // Everything is detached before the first await: a queue opened meanwhile gets new connections, never these.
    const closing = [this.#watches.close()];
    const client = this.#client;
    // The app's own client stays connected, but keeps nothing of this store (a store made per job, never closed, left
    // its listeners on it, each reading the server's settings again at every reconnection): a later open reads them.
    this.#client = undefined;
    this.#durability = undefined;
    this.#unwatchSettings?.();
    this.#unwatchSettings = undefined;
    if (client && client !== this.#o.client) {
      // Not connected (a server that never answered): nothing to say goodbye to, and QUIT would wait out its time.
      if (client.status !== 'ready') client.disconnect();
      else closing.push(within(client.quit(), GOODBYE_MS, () => new Error('no answer to QUIT')).then(() => undefined, () => client.disconnect()));
    }
    await Promise.all(closing);
  }

  async #strictReplicas(): Promise<number> {
    // The replicas to wait for are the server's (unless `replicas` says), asked for again (at most once a RECHECK_MS)
    // before a strict commit: one attaches later (one restarting as the app starts; after a failover, the old primary
    // back as the new one's replica), or goes; read once, strict commits would never wait for it, or fail for good.
    if (this.#recheck && this.#client && performance.now() - this.#readAt >= RECHECK_MS) this.#readSettings(this.#client);
    const server = await this.#durability;
    if (!server) return this.#o.replicas ?? 0;
    this.#hadReplicas ||= server.replicated;
    const plan = strictPlan(server, this.#o.replicas, this.#hadReplicas);
    if (plan.warning) this.#warn(plan.warning);
    return plan.wait;
  }

  #readSettings(client: Redis | Cluster): void {
    this.#readAt = performance.now();
    const before = this.#durability;
    let failed = false;
    // Bounded: a strict commit awaits it, and a server that stopped answering must fail that commit, not hang it.
    const read = within(readDurability(client), answerMs(this.#o.retryMs), () => new Error('no answer')).catch(async (error: unknown) => {
      // What was read before stands (a blip, a busy server): dropped, strict commits would wait for no replica at all.
      const known = await before;
      const text = messageOf(error);
      this.#warn(`sluice: cannot read the Redis server's persistence settings (${text}); ${known ? 'strict commits go on as read before, and they are asked for again' : "durability 'strict' is not verified"}.`);
      failed = true;
      return known;
    });
    this.#durability = read;
    void read.then((server) => {
      // A failed read resolves what was read before (or nothing): the server's replicas are asked for again.
      if (this.#durability === read) this.#recheck = failed || this.#o.replicas === undefined;
      this.#warnSettings(server);
    });
  }

  #warnSettings(server: ServerDurability | undefined): void {
    const warning = server && evictionWarning(server);
    if (warning) this.#warn(warning);
  }

  /** Each warning once per store. */
  #warn(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#o.onWarning(message);
  }
}
