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

/** A Redis Cluster of `size` primaries (no replicas) on 127.0.0.1, made with `redis-cli --cluster create`. */
export class RedisCluster {
  readonly nodes: readonly RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  static async start(size = 3): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    for (let i = 0; i < size; i++) {
      const port = await clusterPort();
      nodes.push(await RedisServer.start({ port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--appendfsync', 'everysec'] }));
    }
    const cluster = new RedisCluster(nodes);
    try {
      execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
      for (const node of nodes) {
        const client = new Redis(node.url);
        try {
          while (!/cluster_state:ok/.test(String(await client.cluster('INFO')))) await new Promise((resolve) => setTimeout(resolve, 50));
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
