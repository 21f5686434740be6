// What README blocks may assume, by name (`<!-- check: prelude outbox -->`): declarations for the type check,
// appended to the block (so its line numbers stay the README's), and, for blocks that run, a module run first.

export interface Prelude {
  /** TypeScript declarations, in the block's module scope. */
  readonly types: string;
  /** A module run before the block, setting the globals `types` declares (absent: the block cannot run with it). */
  readonly runtime?: string;
}

export const preludes: Record<string, Prelude> = {
  /** An outbox opened earlier in the text. */
  outbox: {
    types: `declare const outbox: import('sluice').Outbox;`,
    runtime: `import { MemoryStore, Outbox } from 'sluice';
globalThis.outbox = await Outbox.open({ name: 'readme', store: new MemoryStore(), baseUrl: 'https://api.example.com' });`,
  },
  /** The app's way to get an access token. */
  token: {
    types: `declare function token(): Promise<string>;`,
    runtime: `globalThis.token = async () => 'readme-token';`,
  },
  /** Some bytes to upload. */
  bytes: {
    types: `declare const bytes: Uint8Array;`,
    runtime: `globalThis.bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);`,
  },
  /** The item type of a job queue. */
  job: {
    types: `interface Job { readonly id: string; readonly kind: string }`,
  },
  /** An order, its type, and a store to keep orders in. */
  order: {
    types: `interface Order { readonly id: string; readonly customerId: string }
declare const order: Order;
declare const store: import('sluice').Store;`,
  },
  /** A page's own functions that show things. */
  ui: {
    types: `declare function redraw(): void;
declare function showBanner(text: string): void;
declare function showDone(id: string): void;
declare function showQueued(): void;`,
  },
  /** What a page uploads, and where. */
  upload: {
    types: `declare const formData: FormData;
declare const siteId: string;
declare const body: string;`,
  },
  /** An Express-like app. */
  app: {
    types: `declare const app: {
  post(path: string, handler: (req: { body: { customerId: string } & Record<string, unknown> }, res: { sendStatus(status: number): void }) => unknown): void;
};`,
  },
  /** A plain-JavaScript service worker's global scope (TypeScript code declares it itself). */
  'sw-self': {
    types: `declare var self: ServiceWorkerGlobalScope;`,
  },
};
