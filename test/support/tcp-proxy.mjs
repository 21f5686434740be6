// A TCP proxy on 127.0.0.1 for tests and benchmarks: adds a delay each way (a simulated network), and can drop a
// connection at a chosen moment (the reply of a command lost after the server ran it). Plain JavaScript, so that
// the benchmarks (plain Node) and the TypeScript tests share it.
import { createServer, connect } from 'node:net';

/** Forwards 127.0.0.1:<port> to `target`, delaying each chunk by `upMs` (to the server) and `downMs` (back). */
export class TcpProxy {
  /** @type {import('node:net').Server} */
  #server;
  /** @type {Set<import('node:net').Socket>} */
  #sockets = new Set();
  /** @type {{ predicate: (chunk: Buffer) => boolean, resolve: () => void } | undefined} */
  #drop;
  #holding = false;
  /** @type {(() => void)[]} */
  #held = [];
  /** Connections that sent a SUBSCRIBE, and whether each is silenced. @type {Set<{ silent: boolean }>} */
  #subscribers = new Set();

  /**
   * @param {{ port: number, host?: string }} target
   * @param {{ upMs?: number, downMs?: number }} [options]
   */
  static async start(target, options = {}) {
    const proxy = new TcpProxy(target, options);
    await new Promise((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  constructor(target, { upMs = 0, downMs = 0 } = {}) {
    this.upMs = upMs;
    this.downMs = downMs;
    this.#server = createServer((client) => {
      const open = () => {
        const server = connect(target.port, target.host ?? '127.0.0.1');
        client.setNoDelay(true);
        server.setNoDelay(true);
        this.#sockets.add(client).add(server);
        const end = () => {
          client.destroy();
          server.destroy();
          this.#sockets.delete(client);
          this.#sockets.delete(server);
        };
        client.on('error', end).on('close', end);
        server.on('error', end).on('close', end);
        const flow = { silent: false };
        pipe(client, server, () => this.upMs, (chunk) => {
          if (/SUBSCRIBE/i.test(chunk.toString('latin1'))) this.#subscribers.add(flow);
          return flow.silent;
        });
        pipe(server, client, () => this.downMs, (chunk) => {
          if (flow.silent) return true;
          const drop = this.#drop;
          if (!drop || !drop.predicate(chunk)) return false;
          this.#drop = undefined;
          end();
          drop.resolve();
          return true;
        });
      };
      if (this.#holding) {
        client.pause();
        this.#held.push(() => (client.resume(), open()));
      } else {
        open();
      }
    });
  }

  get port() {
    return /** @type {import('node:net').AddressInfo} */ (this.#server.address()).port;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * The next chunk from the server for which `predicate` is true is not delivered: the client's connection is cut
   * instead, as a network failure right after the server acted would. Resolves once that happened.
   * @param {(chunk: Buffer) => boolean} predicate
   * @returns {Promise<void>}
   */
  dropReply(predicate) {
    return new Promise((resolve) => (this.#drop = { predicate, resolve }));
  }

  /** New connections wait (a network partition that heals later) until `release`. */
  hold() {
    this.#holding = true;
  }

  release() {
    this.#holding = false;
    for (const open of this.#held.splice(0)) open();
  }

  /**
   * Every connection that subscribed so far stops carrying bytes, both ways, and stays open: no FIN, no RST, as a NAT
   * or load balancer that dropped an idle flow leaves it. Connections made since are not touched.
   */
  silenceSubscribers() {
    for (const flow of this.#subscribers) flow.silent = true;
  }

  /** Cuts every connection now. */
  cut() {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async close() {
    this.cut();
    await new Promise((resolve) => this.#server.close(() => resolve(undefined)));
  }
}

/**
 * Copies `from` to `to`, each chunk `delay()` ms later, in order. `intercept` may swallow a chunk (returns true).
 * @param {import('node:net').Socket} from
 * @param {import('node:net').Socket} to
 * @param {() => number} delay
 * @param {(chunk: Buffer) => boolean} [intercept]
 */
function pipe(from, to, delay, intercept) {
  /** @type {{ due: number, chunk: Buffer }[]} */
  const queue = [];
  let timer;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now) {
      const { chunk } = queue.shift();
      if (intercept?.(chunk)) return;
      if (!to.destroyed) to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(flush, queue[0].due - now);
  };
  from.on('data', (chunk) => {
    const ms = delay();
    if (ms <= 0 && queue.length === 0) {
      if (!intercept?.(chunk) && !to.destroyed) to.write(chunk);
      return;
    }
    queue.push({ due: performance.now() + ms, chunk });
    timer ??= setTimeout(flush, ms);
  });
}
