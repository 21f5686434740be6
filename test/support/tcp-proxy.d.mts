/** Types of tcp-proxy.mjs, for the TypeScript tests. */
export declare class TcpProxy {
  static start(target: { port: number; host?: string }, options?: { upMs?: number; downMs?: number }): Promise<TcpProxy>;
  upMs: number;
  downMs: number;
  readonly port: number;
  readonly url: string;
  dropReply(predicate: (chunk: Buffer) => boolean): Promise<void>;
  hold(): void;
  silenceSubscribers(): void;
  release(): void;
  cut(): void;
  close(): Promise<void>;
}
