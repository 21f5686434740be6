import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Where redis-server is (SLUICE_REDIS_SERVER first, then PATH), or undefined. */
export function findRedisServer(): string | undefined {
  return findTool('redis-server', process.env.SLUICE_REDIS_SERVER);
}

/** Where a program is: at `given` when one is given (and nowhere else), else on PATH; undefined when not found. */
export function findTool(name: string, given?: string): string | undefined {
  if (given) return existsSync(given) ? given : undefined;
  const candidates = [...(process.env.PATH ?? '').split(delimiter).map((dir) => dir && join(dir, name)), `/usr/bin/${name}`];
  return candidates.find((path): path is string => !!path && existsSync(path));
}

/** True when a missing redis-server must fail the run (CI installs it and sets this). */
export const redisRequired = process.env.SLUICE_REQUIRE_REDIS === '1';

/** The words said, loudly, when a Redis suite cannot run. */
export function redisSkipNotice(suite: string, missing = 'redis-server'): string {
  return `\n*** SKIPPED: ${suite} did not run: ${missing} not found (looked at SLUICE_REDIS_SERVER, else PATH). Install it (apt-get install -y redis-server redis-tools) or set SLUICE_REDIS_SERVER. ***\n`;
}

/** A free TCP port on 127.0.0.1 (free when asked: the caller binds it at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServerOptions {
  /** Extra arguments, after the defaults (which they override: later wins). */
  readonly args?: readonly string[];
  /** Keep data here (the default is a fresh temp directory, removed by `stop`). */
  readonly dir?: string;
  readonly port?: number;
}

/**
 * A real redis-server of our own on 127.0.0.1, in a temp directory, with an append-only file fsynced on every write
 * unless `args` say otherwise. `kill` is SIGKILL (a crash); `restart` starts it again on the same port and data.
 */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #args: readonly string[];
  readonly #ownsDir: boolean;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, args: readonly string[], ownsDir: boolean) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
    this.#ownsDir = ownsDir;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = options.port ?? (await freePort());
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-redis-'));
    const server = new RedisServer(port, dir, options.args ?? [], options.dir === undefined);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) and resolves once it accepts connections with its data loaded. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('redis-server is already running');
    const path = findRedisServer();
    if (!path) throw new Error('redis-server not found');
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--logfile', '', '--protected-mode', 'no', ...this.#args];
    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start in 10 s:\n${log}`)), 10_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${log}`));
      });
    });
    child.removeAllListeners('exit');
    // Keep draining its output, so that a chatty server never blocks on a full pipe.
    child.stdout!.resume();
  }

  /**
   * Sends `signal` to the running server: SIGSTOP makes it stop answering while its connections stay open (a hung
   * server, a long GC pause of a VM), SIGCONT lets it go on.
   */
  signal(signal: NodeJS.Signals): void {
    if (!this.#child) throw new Error('redis-server is not running');
    this.#child.kill(signal);
  }

  /** Whether the server was started and not stopped or killed since. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** SIGKILL: the server dies at once, as in a crash; what its AOF holds is all that survives. */
  async kill(): Promise<void> {
    await this.#end('SIGKILL');
  }

  /** Stops the server and removes its temp directory. */
  async stop(): Promise<void> {
    await this.#end('SIGTERM');
    if (this.#ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}
