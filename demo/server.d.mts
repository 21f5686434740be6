export const FAULTS: Map<string, string>;

export interface Received {
  readonly fault: string;
  /** What arrived, in order: each note and photo once (the first request with its Idempotency-Key). */
  readonly arrivals: readonly { readonly kind: 'note' | 'photo'; readonly note: string; readonly key: string }[];
  /** Each note once: `key` the first it arrived under, `keys` every one (more than one: it was enqueued twice). */
  readonly notes: readonly { readonly id: string; readonly text: string; readonly key: string; readonly keys: readonly string[]; readonly photo?: { readonly type: string; readonly bytes: number; readonly key: string } }[];
  /** Per Idempotency-Key: requests accepted (more than 1: duplicates) and the statuses of those refused. */
  readonly keys: Readonly<Record<string, { readonly accepted: number; readonly refused: readonly number[] }>>;
}

export interface DemoServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly state: { fault: string; notes: Map<string, { photo?: { bytes: Buffer } }> };
  setFault(mode: string): void;
  received(): Received;
  /** Ends every open connection (kept-alive ones too), as a network that went away would. */
  dropConnections(): void;
  close(): Promise<void>;
}

export function startDemoServer(options: { root: string; port?: number; retryAfterSeconds?: number; slowMs?: number }): Promise<DemoServer>;
