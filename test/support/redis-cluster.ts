import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RedisServer } from './redis-server.js';

/** True when `port` can be bound on 127.0.0.1 now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await bindable(port)) && (await bindable(port + 10_000))) return port;
  }
}

/**
 * A Redis Cluster of `size` primaries on 127.0.0.1, each with `replicas` replicas (none by default), made with
 * `redis-cli --cluster create`.
 */
export class RedisCluster {
  readonly nodes: readonly RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  static async start(size = 3, replicas = 0): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    for (let i = 0; i < size * (1 + replicas); i++) {
      const port = await clusterPort();
      nodes.push(await RedisServer.start({ port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--appendfsync', 'everysec', '--repl-diskless-sync-delay', '0'] }));
    }
    const cluster = new RedisCluster(nodes);
    try {
      execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { stdio: 'ignore' });
      for (const node of nodes) {
        const client = new Redis(node.url);
        try {
          while (!/cluster_state:ok/.test(String(await client.cluster('INFO')))) await new Promise((resolve) => setTimeout(resolve, 50));
          // Every node sees each range served by a primary and its replicas, and each replica has done its first sync.
          const ready = async () => {
            const slots = (await client.cluster('SLOTS')) as unknown as unknown[][];
            if (!slots.every((range) => range.length === 3 + replicas)) return false;
            const info = await client.info('replication');
            return !/role:slave/.test(info) || /master_link_status:up/.test(info);
          };
          while (!(await ready())) await new Promise((resolve) => setTimeout(resolve, 50));
        } finally {
          client.disconnect();
        }
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
