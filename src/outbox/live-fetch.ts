import { randomId } from '../core/ids.js';
import { isNetworkError } from './send.js';
import { taskFromRequest, type HttpTask } from './task.js';

/** What a live request needs of its outbox. */
export interface LiveFetchContext {
  readonly transport: typeof fetch;
  /** A response came (`ok` when 2xx), or a network error (`response` false). */
  readonly saw: (response: boolean, ok?: boolean) => void;
  readonly enqueue: (task: HttpTask) => Promise<string>;
}

/**
 * `Outbox.fetch`: the request goes to the network now; when it fails with a network error it is stored as a task and
 * answered with a 202 whose 'Sluice-Queued' header holds the task id (a service worker's fetch handler). The live
 * try carries the Idempotency-Key the stored task keeps: if its response was lost, the retry is deduplicated.
 */
export async function liveFetch(request: Request, c: LiveFetchContext): Promise<Response> {
  const task = await taskFromRequest(request);
  task.id ??= randomId() + randomId();
  const headers = new Headers(request.headers);
  headers.set('idempotency-key', task.id);
  try {
    const response = await c.transport(new Request(request, { headers }));
    c.saw(true, response.ok);
    return response;
  } catch (error) {
    if (!isNetworkError(error)) throw error;
    c.saw(false);
    const id = await c.enqueue(task);
    return new Response(null, { status: 202, statusText: 'Accepted', headers: { 'Sluice-Queued': id } });
  }
}
