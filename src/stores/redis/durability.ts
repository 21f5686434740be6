import type { Cluster, Redis } from 'ioredis';
import { REFUSED } from './attempt.js';
import { messageOf } from '../../core/errors.js';

/** What the server(s) behind a client can promise a 'strict' commit. */
export interface ServerDurability {
  /** Every primary appends each write to its AOF and fsyncs it before replying; undefined when it cannot be read. */
  readonly fsyncAlways: boolean | undefined;
  /** Replicas connected to each primary (the fewest, in a Cluster). */
  readonly replicas: number;
  /** Some primary has a replica connected (in a Cluster, another may have none). */
  readonly replicated: boolean;
  /** Why `fsyncAlways` is unknown, for the warning. */
  readonly unknownBecause?: string;
  /** Why `replicas` is unknown (INFO refused to the store's user): 0 then says nothing. */
  readonly replicasUnknown?: string;
  /**
   * The `maxmemory-policy` of a primary that may evict keys (an `allkeys-*` one before a `volatile-*` one);
   * undefined when every primary has `noeviction`, or when CONFIG GET is refused.
   */
  readonly eviction?: string;
}

/**
 * Reads what the server allows: `CONFIG GET appendonly appendfsync`, `maxmemory-policy` and the replicas in
 * `INFO replication`, on every primary of a Cluster. Managed services often disable CONFIG: then fsyncAlways is
 * unknown, not assumed, and the eviction policy unchecked.
 */
export async function readDurability(client: Redis | Cluster): Promise<ServerDurability> {
  const nodes = primaries(client);
  let fsyncAlways: boolean | undefined = true;
  let replicas = Infinity;
  let replicated = false;
  let unknownBecause: string | undefined;
  let eviction: string | undefined;
  let replicasUnknown: string | undefined;
  for (const node of nodes) {
    // INFO refused to the user (`-@dangerous`): the replicas cannot be counted (see `strictPlan`). Any other failure
    // (a server loading) is the caller's: it keeps what it read before.
    const info = await node.info('replication').catch((error: unknown) => {
      if (!(error instanceof Error && REFUSED.test(error.message))) throw error;
      replicasUnknown = `INFO is refused to the store's Redis user (${error.message})`;
      return '';
    });
    const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
    replicas = Math.min(replicas, connected);
    replicated ||= connected > 0;
    try {
      const config = (await node.config('GET', 'append*')) as unknown as string[] | Record<string, string>;
      // A flat [name, value, ...] array, or an object where the client maps RESP3 replies to objects.
      const get = (name: string) => (Array.isArray(config) ? config[config.indexOf(name) + 1] : config[name]);
      if (get('appendonly') !== 'yes' || get('appendfsync') !== 'always') fsyncAlways = false;
      // One pattern per CONFIG GET: Redis 6.2 takes no more.
      const memory = (await node.config('GET', 'maxmemory-policy')) as unknown as string[] | Record<string, string>;
      const policy = Array.isArray(memory) ? memory[memory.indexOf('maxmemory-policy') + 1] : memory['maxmemory-policy'];
      if (policy && policy !== 'noeviction' && !eviction?.startsWith('allkeys-')) eviction = policy;
    } catch (error) {
      if (fsyncAlways) fsyncAlways = undefined;
      unknownBecause = `CONFIG GET is refused (${messageOf(error)}), as managed Redis services often do`;
    }
  }
  return { fsyncAlways, replicas: replicas === Infinity ? 0 : replicas, replicated, ...(unknownBecause && { unknownBecause }), ...(replicasUnknown && { replicasUnknown }), ...(eviction && { eviction }) };
}

/** The servers `client` writes to: itself, or a Cluster's primaries as its slot map last listed them. */
export function primaries(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/** A server's address, host:port. */
export function addressOf({ options }: Redis): string {
  return `${options.host}:${options.port}`;
}

/** Names the servers `client` writes to (host:port), to tell when a Cluster's primaries change. */
export function primaryAddresses(client: Redis | Cluster): string {
  return primaries(client).map(addressOf).sort().join(' ');
}

/**
 * How a 'strict' commit is made durable on this server: how many replicas to `WAIT` for, and the warning to give
 * once when the server cannot honour 'strict' (undefined when it can). `hadReplicas`: some primary was seen with a
 * replica since the store connected.
 */
export function strictPlan(server: ServerDurability, replicas: number | undefined, hadReplicas = false): { wait: number; warning?: string } {
  // Asked for explicitly: wait for that many replicas, whatever the server's own persistence.
  if (replicas !== undefined) {
    if (replicas > server.replicas && server.replicasUnknown === undefined) {
      return { wait: replicas, warning: `sluice: durability 'strict' asks ${replicas} replicas to confirm each commit, but only ${server.replicas} are connected: strict commits will fail until they are.` };
    }
    return { wait: replicas };
  }
  // Replicas the store cannot count: none is waited for, and that is said (a primary with a replica would otherwise
  // resolve strict commits unreplicated, without a word).
  if (server.replicasUnknown !== undefined) {
    return { wait: 0, warning: `sluice: durability 'strict' cannot count the server's replicas: ${server.replicasUnknown}. Commits WAIT for none; set \`replicas\` to the number to WAIT for, or grant the user INFO.` };
  }
  // Replicas first, even where every write is fsynced: a failover to one discards the copy on the machine that died.
  if (server.replicas > 0) return { wait: server.replicas };
  // None connected now to a primary, where replicas were (a replica's link down, as before it takes over; in a
  // Cluster, a shard whose replica took over and has none yet): without fsync nothing but a replica keeps a commit, and
  // resolved as relaxed, the commits were lost in the failover that followed. One is waited for: on a primary with a
  // replica, commits go on; on one without, they fail until one is back.
  if (hadReplicas && !server.fsyncAlways) {
    return { wait: 1, warning: "sluice: durability 'strict': a Redis primary that had replicas has none connected now, and does not fsync every write: strict commits on it fail (ERR_STORAGE) until a replica is back. Set `replicas: 0` to resolve them without one." };
  }
  if (server.fsyncAlways) return { wait: 0 };
  if (server.fsyncAlways === undefined) {
    return { wait: 0, warning: `sluice: durability 'strict' cannot be verified: ${server.unknownBecause}. Commits are as durable as the provider's persistence; set \`replicas\` to WAIT for replicas.` };
  }
  return {
    wait: 0,
    warning:
      "sluice: durability 'strict' cannot be honoured: Redis neither fsyncs every write (appendonly yes, appendfsync always) nor has replicas " +
      "to WAIT for. Commits resolve once Redis has them in memory, as durable as its configured persistence ('relaxed').",
  };
}

/**
 * What to say, once, about a server whose eviction policy can delete what the store keeps (undefined: nothing).
 * Redis evicts at `maxmemory`: `allkeys-*` policies pick any key, a queue's segments and metadata included;
 * `volatile-*` ones pick keys that have a TTL, which are a handle's heartbeat (evicted, the handle looks dead and its
 * leased items are handed out again) and its last commit's token (evicted, a resent commit may be applied twice).
 */
export function evictionWarning(server: ServerDurability): string | undefined {
  const policy = server.eviction;
  if (!policy) return undefined;
  if (policy.startsWith('volatile-')) {
    return (
      `sluice: Redis evicts keys that have a TTL at maxmemory (maxmemory-policy ${policy}): a live handle's heartbeat can be evicted, and its leased items ` +
      'handed out again to another, and a commit\'s replay guard, so that a commit resent after a lost reply may be applied twice. Set maxmemory-policy noeviction ' +
      '(pushes are then refused with ERR_QUOTA_EXCEEDED at maxmemory, and acks still free memory).'
    );
  }
  return (
    `sluice: Redis evicts keys at maxmemory (maxmemory-policy ${policy}): a queue's segments and metadata can be evicted, and the items in them lost. ` +
    'Set maxmemory-policy noeviction (pushes are then refused with ERR_QUOTA_EXCEEDED at maxmemory, and acks still free memory), or keep queues in a Redis of their own.'
  );
}
