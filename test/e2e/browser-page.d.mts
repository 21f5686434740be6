import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../browser/engines.mjs';
import type { DrivenBrowser, DrivenPage, LaunchOptions } from '../browser/drive/index.mjs';

export function bundle(source: string, globalName?: string): Promise<string>;

export interface ServedBrowser {
  /** `http://127.0.0.1:<port>`: the origin of every page. */
  readonly origin: string;
  /** A new page of that origin with the library loaded as `globalThis.sluice`. */
  open(): Promise<DrivenPage>;
  /** As `DrivenBrowser.setOffline`: absent where the engine's driver cannot take the browser offline. */
  readonly setOffline: DrivenBrowser['setOffline'];
  close(): Promise<void>;
}

export function startBrowser(
  engine: Engine,
  options?: { handle?: (req: IncomingMessage, res: ServerResponse) => boolean | undefined; launch?: LaunchOptions },
): Promise<ServedBrowser>;
