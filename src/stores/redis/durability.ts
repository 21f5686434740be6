import type { Cluster, Redis } from 'ioredis';

/** What the server(s) behind a client can promise a 'strict' commit. */
export interface ServerDurability {
  /** Every primary appends each write to its AOF and fsyncs it before replying; undefined when it cannot be read. */
  readonly fsyncAlways: boolean | undefined;
  /** Replicas connected to each primary (the fewest, in a Cluster). */
  readonly replicas: number;
  /** Why `fsyncAlways` is unknown, for the warning. */
  readonly unknownBecause?: string;
}

/**
 * Reads what the server allows: `CONFIG GET appendonly appendfsync` and the replicas in `INFO replication`, on
 * every primary of a Cluster. Managed services often disable CONFIG: then fsyncAlways is unknown, not assumed.
 */
export async function readDurability(client: Redis | Cluster): Promise<ServerDurability> {
  const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  let fsyncAlways: boolean | undefined = true;
  let replicas = Infinity;
  let unknownBecause: string | undefined;
  for (const node of nodes) {
    const info = await node.info('replication');
    replicas = Math.min(replicas, Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0));
    try {
      const config = (await node.config('GET', 'append*')) as unknown as string[] | Record<string, string>;
      // A flat [name, value, ...] array, or an object where the client maps RESP3 replies to objects.
      const get = (name: string) => (Array.isArray(config) ? config[config.indexOf(name) + 1] : config[name]);
      if (get('appendonly') !== 'yes' || get('appendfsync') !== 'always') fsyncAlways = false;
    } catch (error) {
      if (fsyncAlways) fsyncAlways = undefined;
      unknownBecause = `CONFIG GET is refused (${error instanceof Error ? error.message : String(error)}), as managed Redis services often do`;
    }
  }
  return { fsyncAlways, replicas: replicas === Infinity ? 0 : replicas, ...(unknownBecause && { unknownBecause }) };
}

/**
 * How a 'strict' commit is made durable on this server: how many replicas to `WAIT` for, and the warning to give
 * once when the server cannot honour 'strict' (undefined when it can).
 */
export function strictPlan(server: ServerDurability, replicas: number | undefined): { wait: number; warning?: string } {
  // Asked for explicitly: wait for that many replicas, whatever the server's own persistence.
  if (replicas !== undefined) {
    if (replicas > server.replicas) {
      return { wait: replicas, warning: `sluice: durability 'strict' asks ${replicas} replicas to confirm each commit, but only ${server.replicas} are connected: strict commits will fail until they are.` };
    }
    return { wait: replicas };
  }
  if (server.fsyncAlways) return { wait: 0 };
  if (server.replicas > 0) return { wait: server.replicas };
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
