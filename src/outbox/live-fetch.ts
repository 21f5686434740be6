import type { Clock } from '../core/clock.js';
import { SluiceError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { Deadline, isTimeout } from './deadline.js';
import { originOf } from './pending-task.js';
import { isNetworkError, letGo } from './send.js';
import { taskFromRequest, type HttpTask } from './task.js';

/** The request header that names a live request's group (`Outbox.fetch`); never sent, never stored. */
export const GROUP_HEADER = 'sluice-group';

/**
 * `new Request(input, init)`, whose refusal (a bad URL, a forbidden method, a GET with a body) is the task's fault:
 * 'ERR_INVALID_TASK'. A relative URL has no base where there is no page or worker location (Node), and `baseUrl`
 * is for enqueued tasks: the message says to pass an absolute URL rather than fetch's bare "Failed to parse URL".
 */
export function toRequest(input: Request | string, init: RequestInit): Request {
  try {
    return new Request(input, init);
  } catch (error) {
    // The hint inside the message, so that the production build's short message drops it with `absolute`.
    throw new SluiceError(
      'ERR_INVALID_TASK',
      `Expected a request fetch accepts${typeof input === 'string' && !absolute(input) ? ' (a relative URL needs a page or worker location to resolve against: pass an absolute one; `baseUrl` applies to enqueued tasks only)' : ''}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

function absolute(url: string): boolean {
  try {
    return new URL(url) !== undefined;
  } catch {
    return false;
  }
}

/** What a live request needs of its outbox. */
export interface LiveFetchContext {
  readonly transport: typeof fetch;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** The group from `Outbox.fetch`'s options (wins over the 'Sluice-Group' header). */
  readonly group: string | undefined;
  /** True when tasks of `group` are pending: a live request of that group must queue behind them. */
  readonly behind: (group: string | undefined) => Promise<boolean>;
  /** Told what came, a response (`ok` when 2xx) or a network error (`response` false), from `origin`, asked when `seen` was `since`. */
  readonly sight: { seen(): number; saw(response: boolean, ok: boolean, origin: string, since: number): void };
  readonly enqueue: (task: HttpTask) => Promise<string>;
}

/**
 * `Outbox.fetch`: the request goes to the network now, unless tasks of its group wait (then it is stored behind them,
 * so the group's order holds between live and stored requests). When it fails with a network error, or no response
 * comes within `timeoutMs`, it is stored as a task; either way a stored request is answered with a 202 whose
 * 'Sluice-Queued' header holds the task id (a service worker's fetch handler). The live try carries the
 * Idempotency-Key the stored task keeps: if its response was lost, the retry is deduplicated. The response's body
 * must arrive within `timeoutMs` too: the request is aborted at the limit.
 */
export async function liveFetch(request: Request, c: LiveFetchContext): Promise<Response> {
  const headers = new Headers(request.headers);
  const group = c.group ?? headers.get(GROUP_HEADER) ?? undefined;
  headers.delete(GROUP_HEADER);
  // One copy without the group header, for both the stored task (read from a clone) and the live request.
  const live = new Request(request, { headers });
  const task = await taskFromRequest(live);
  task.id ??= randomId() + randomId();
  if (group !== undefined) task.group = group;
  const queue = async () => {
    const id = await c.enqueue(task);
    return new Response(null, { status: 202, statusText: 'Accepted', headers: { 'Sluice-Queued': id } });
  };
  if (await c.behind(group)) return queue();
  headers.set('idempotency-key', task.id);
  const deadline = new Deadline(c.clock, c.timeoutMs);
  const since = c.sight.seen();
  const origin = originOf(task.url);
  const signal = live.signal ? anySignal(live.signal, deadline.signal) : deadline.signal;
  try {
    // Raced, for a transport that ignores the signal: the request is queued at the limit all the same.
    const response = await deadline.race(c.transport(new Request(live, { headers, signal })), letGo);
    c.sight.saw(true, response.ok, origin, since);
    return bounded(response, deadline);
  } catch (error) {
    deadline.end();
    if (live.signal?.aborted) throw error;
    if (isTimeout(error) || deadline.expired) return queue();
    if (!isNetworkError(error)) throw error;
    c.sight.saw(false, false, origin, since);
    return queue();
  }
}

/**
 * `response`, its body still bounded by `deadline` (the request's signal errors it at the limit), and the deadline
 * ended once the body is read, so that no timer outlives the exchange (one would keep a Node process alive).
 */
function bounded(response: Response, deadline: Deadline): Response {
  if (!response.body || response.status < 200 || response.status > 599) {
    if (!response.body) deadline.end();
    return response;
  }
  const body = response.body.pipeThrough(new TransformStream({ flush: () => deadline.end() }));
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** Aborts when either signal does (AbortSignal.any where the platform has it). */
function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const any = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (any) return any([a, b]);
  const controller = new AbortController();
  const abort = (from: AbortSignal) => () => controller.abort(from.reason);
  if (a.aborted) controller.abort(a.reason);
  else if (b.aborted) controller.abort(b.reason);
  a.addEventListener('abort', abort(a), { once: true });
  b.addEventListener('abort', abort(b), { once: true });
  return controller.signal;
}
