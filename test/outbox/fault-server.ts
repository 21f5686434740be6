import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

/** What the server does with one request. The default is a 200 with an empty body. */
export interface Fault {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Answer only after this many real milliseconds. */
  readonly delayMs?: number;
  /** Never answer (until the server closes): a timeout, as far as the client can tell. */
  readonly hang?: boolean;
  /** Destroy the connection instead of answering (the client sees a reset). */
  readonly reset?: boolean;
  /** Send the status, headers and this much of the body, then nothing more (until the server closes). */
  readonly stallBody?: string;
}

/** A request as the server received it. */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** The 'Idempotency-Key' header. */
  readonly key: string | undefined;
  /** What the server did with it. */
  readonly fault: Fault;
}

/**
 * A real HTTP server on 127.0.0.1 that answers by script: per request in order (`next`), per Idempotency-Key
 * (`plan`), or by a function (`script`); `down()` stops listening (connections are refused) and `up()` listens
 * again on the same port.
 */
export class FaultServer {
  readonly received: Received[] = [];
  /** Requests answered with a 2xx. */
  readonly delivered: Received[] = [];
  #server: Server;
  #port = 0;
  readonly #sockets = new Set<Socket>();
  readonly #queue: Fault[] = [];
  readonly #plans = new Map<string, Fault[]>();
  #script: ((request: Omit<Received, 'fault'>) => Fault | undefined) | undefined;
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  readonly #hanging = new Set<ServerResponse>();
  /**
   * The requests held open without an answer ('hang') or with a body cut short ('stall') whose connections the
   * client has not closed yet: what only the client's time limit ends.
   */
  readonly holding = new Map<ServerResponse, 'hang' | 'stall'>();
  /** Called when a request's headers have arrived; the body is read once what it returns has settled. */
  onHeaders: ((request: IncomingMessage) => unknown) | undefined;

  private constructor() {
    this.#server = this.#create();
  }

  static async start(): Promise<FaultServer> {
    const server = new FaultServer();
    await server.up();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The next requests, whatever they are, get these faults in order. */
  next(...faults: Fault[]): this {
    this.#queue.push(...faults);
    return this;
  }

  /** Requests carrying Idempotency-Key `key` get these faults in order (before `next` is consulted). */
  plan(key: string, faults: Fault[]): this {
    this.#plans.set(key, [...faults]);
    return this;
  }

  /** Decides every request not covered by `plan` or `next`. */
  script(fn: (request: Omit<Received, 'fault'>) => Fault | undefined): this {
    this.#script = fn;
    return this;
  }

  /** Resolves once the server has received `count` requests in all. */
  waitFor(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  /** Stops listening and drops every connection: the client's next requests are refused. */
  async down(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server = this.#create();
  }

  /** Listens (again, on the same port once it had one). */
  up(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => {
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.down();
  }

  #create(): Server {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    return server;
  }

  #hold(res: ServerResponse, kind: 'hang' | 'stall'): void {
    this.#hanging.add(res);
    this.holding.set(res, kind);
    res.once('close', () => this.holding.delete(res));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.onHeaders?.(req);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      // The client broke the request off mid-body (a stored body found damaged as it went): nothing was received.
      return;
    }
    const key = req.headers['idempotency-key'] as string | undefined;
    const request = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), key };
    const fault = (key !== undefined ? this.#plans.get(key)?.shift() : undefined) ?? this.#queue.shift() ?? this.#script?.(request) ?? {};
    const received = { ...request, fault };
    this.received.push(received);
    for (const waiter of [...this.#waiters]) {
      if (this.received.length >= waiter.count) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    if (fault.reset) {
      req.socket.destroy();
      return;
    }
    if (fault.hang) {
      this.#hold(res, 'hang');
      return;
    }
    if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    const status = fault.status ?? 200;
    if (fault.stallBody !== undefined) {
      this.#hold(res, 'stall');
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(fault.stallBody.length + 100), ...fault.headers });
      res.write(fault.stallBody);
      return;
    }
    if (status >= 200 && status < 300) this.delivered.push(received);
    res.writeHead(status, { 'content-type': 'text/plain', ...fault.headers });
    res.end(fault.body ?? '');
  }
}

/**
 * A TCP server on 127.0.0.1 that accepts connections and never says a word: no HTTP response, not even a read of
 * the request. `connections` counts what it accepted.
 */
export async function silentServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createTcpServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.pause();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
