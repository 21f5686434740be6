import type { Clock } from '../core/clock.js';
import { batchable, buildBatchRequest, buildRequest, type Send } from './request.js';
import type { StoredTask } from './task.js';

/** What one request came to, and whether it says anything about the network. */
export interface SendOutcome {
  /** The response, or the error (a network error, a timeout, a failing `headers()`). */
  readonly outcome: Response | Error;
  /** true: a response came (the network is there). false: a network error (it is not). undefined: neither. */
  readonly reachable: boolean | undefined;
}

export interface SendOptions {
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly headers: (() => Record<string, string> | Promise<Record<string, string>>) | undefined;
  /** The absolute batch URL in batch mode. */
  readonly batchUrl: string | undefined;
}

/**
 * Sends one task, or several as a batch, with a timeout on the injected clock (so tests move time instead of
 * waiting). Never rejects: whatever happened is the outcome `classify` judges.
 */
export async function send(tasks: readonly StoredTask[], options: SendOptions): Promise<SendOutcome> {
  const controller = new AbortController();
  const timer = options.clock.setTimeout(
    () => controller.abort(new DOMException(`No response within ${options.timeoutMs} ms.`, 'TimeoutError')),
    options.timeoutMs,
  );
  try {
    // Awaited only when there is a provider: each await is a turn of the event loop on every request.
    const perSend = options.headers ? ((await options.headers()) ?? {}) : {};
    const request: Send =
      options.batchUrl !== undefined && (tasks.length > 1 || batchable(tasks[0]!))
        ? buildBatchRequest(options.batchUrl, tasks, perSend, controller.signal)
        : buildRequest(tasks[0]!, perSend, controller.signal);
    const response = await options.fetch(request.url, request.init);
    return { outcome: response, reachable: true };
  } catch (error) {
    const reachable = isNetworkError(error) && !controller.signal.aborted ? false : undefined;
    // A transport may reject with anything; classify always gets an Error.
    return { outcome: error instanceof Error ? error : new TypeError(`The request failed: ${String(error)}`, { cause: error }), reachable };
  } finally {
    options.clock.clearTimeout(timer);
  }
}

/** fetch rejects with a TypeError when no response came (DNS, refused, reset); aborts are not network errors. */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}

/**
 * Frees the connection unless a 'sent' listener started reading the body. A small body is read to its end, so the
 * connection goes back to the pool (cancelling a body can close it); a large or unsized one is cancelled.
 */
export async function discard(response: Response): Promise<void> {
  if (response.bodyUsed || !response.body) return;
  const length = Number(response.headers.get('content-length') ?? Infinity);
  // A failed read or cancel only means the connection is gone: there is nothing left to free.
  if (length <= 65_536) await response.arrayBuffer().catch(() => undefined);
  else await response.body.cancel().catch(() => undefined);
}
