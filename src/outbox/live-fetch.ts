import type { Clock } from '../core/clock.js';
import { messageOf, SluiceError, withoutUserinfo } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { INLINE_MAX } from './body.js';
import { Deadline, isTimeout } from './deadline.js';
import { originOf } from './pending-task.js';
import { copyOf } from './response-body.js';
import { scrub } from './scrub.js';
import { gaveUp, isNetworkError, letGo, responseOf, unreadableAnswer } from './send.js';
import { taskFromRequest, type Reading } from './request-task.js';
import { untilAborted } from './until-aborted.js';
import { prepareTask, type HttpTask } from './task.js';
import type { Turn } from './live-turns.js';
import type { Transport } from './options.js';
import type { KeyHeader } from './key-header.js';
import type { Rule } from '../core/validate.js';

/** `Outbox.fetch`'s `init`: what fetch takes (an object; null or undefined for none), and refuses with a TypeError (5, 'POST'). */
export const REQUEST_INIT: Rule = ['an object', (v) => v == null || Object(v) === v];

/** The request header that names a live request's group (`Outbox.fetch`); never sent, never stored. */
export const GROUP_HEADER = 'sluice-group';

/**
 * `new Request(input, init)`, whose refusal (a bad URL, a forbidden method, a GET with a body) is the task's fault:
 * 'ERR_INVALID_TASK'. A relative URL has no base where there is no page or worker location (Node), and `baseUrl`
 * is for enqueued tasks: the message says to pass an absolute URL rather than fetch's bare "Failed to parse URL".
 */
function toRequest(input: Request | string, init: RequestInit): Request {
  try {
    return new Request(input, init);
  } catch (error) {
    // Fetch's own words quote what it refuses (undici and Firefox: the URL with its password, a header's value): said
    // without them, and not kept as the cause, which holds them too.
    const said = scrub(withoutUserinfo(messageOf(error)), headerValues(init.headers));
    // The hint inside the message, so that the production build's short message drops it with `absolute`.
    throw new SluiceError(
      'ERR_INVALID_TASK',
      `Expected a request fetch accepts${typeof input === 'string' && !absolute(input) ? ' (a relative URL needs a page or worker location to resolve against: pass an absolute one; `baseUrl` applies to enqueued tasks only)' : ''}: ${said}`,
    );
  }
}

/** The values of headers as `RequestInit` gives them (a record, pairs, a `Headers`), as strings; none when unreadable. */
function headerValues(headers: HeadersInit | undefined): string[] {
  try {
    if (headers === undefined || headers === null) return [];
    if (Symbol.iterator in headers) return Array.from(headers as Iterable<readonly unknown[]>, (pair) => String(pair[1]));
    return Object.values(headers).map(String);
  } catch {
    return [];
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
  readonly transport: Transport;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** The header the task id goes in (`OutboxOptions.idempotencyHeader`): a request's own becomes its id. */
  readonly keyHeader: KeyHeader;
  /** The group from `Outbox.fetch`'s options (wins over the 'Sluice-Group' header). */
  readonly group: string | undefined;
  /**
   * 'behind' when tasks of `group` are pending: a live request of that group must queue behind them. 'own' when the
   * task of id `id` is: the request is that task, sent by another handle of this outbox (a page delivering through
   * its service worker's fetch handler), which goes to the network and is never stored again (a copy under its id,
   * answered 202, was taken back by that handle as handed over, and sent through here again, for as long as it ran).
   */
  readonly placeOf: (group: string | undefined, id: string | undefined) => Promise<'own' | 'behind' | undefined>;
  /** Told what came, a response (`ok` when 2xx) or a network error (`response` false), from `origin`, asked when `seen` was `since`. */
  readonly sight: { seen(): number; saw(response: boolean, ok: boolean, origin: string, since: number): void };
  readonly enqueue: (task: HttpTask) => Promise<string>;
  /** Takes this live try's turn in `group`'s lane, behind the tries of the lane made before it (see `LiveTurns`). */
  readonly turn: (group: string | undefined) => Turn;
}

/**
 * `Outbox.fetch`: the request goes to the network now, unless tasks of its group wait (then it is stored behind them,
 * so the group's order holds between live and stored requests). When it fails with a network error, or no response
 * comes within `timeoutMs`, it is stored as a task; either way a stored request is answered with a 202 whose
 * 'Sluice-Queued' header holds the task id (a service worker's fetch handler). The live try carries the key (in
 * `idempotencyHeader`) the stored task keeps: if its response was lost, the retry is deduplicated. The response's body
 * must arrive within `timeoutMs` too: the request is aborted at the limit.
 */
export async function liveFetch(input: Request | string, init: RequestInit, c: LiveFetchContext): Promise<Response> {
  // Without a key, a request of this outbox's own task, sent by a page through its worker's fetch handler, cannot be
  // told from a new one: the worker stored it again and answered 202, the page took that for a hand-over and sent the
  // copy through again, for ever, none of them reaching the network.
  if (c.keyHeader === undefined) {
    throw new SluiceError('ERR_INVALID_OPTION', 'outbox.fetch() needs a key header: this outbox was opened with `idempotencyHeader: false`, and a request of its own task sent through here (a page delivering through its service worker) could not be told from a new one. Open another outbox with a key for the requests a fetch handler stores, or enqueue them.');
  }
  // The caller's own signal, listened to by the attempt's deadline, not followed by the copies: a Request's signal
  // follows the one it was given only weakly (an abort that never arrives would let the request be stored and sent
  // after all), and each copy would leave a listener on a signal the app keeps until it is collected. Anything else
  // given as a signal is left to fetch, which refuses it.
  const given: unknown = init.signal !== undefined ? init.signal : input instanceof Request ? input.signal : undefined;
  const caller = given instanceof AbortSignal ? given : undefined;
  const request = toRequest(input, caller ? { ...init, signal: null } : init);
  caller?.throwIfAborted();
  const headers = new Headers(request.headers);
  const group = c.group ?? headers.get(GROUP_HEADER) ?? undefined;
  headers.delete(GROUP_HEADER);
  // Taken at the call, before the body is read: the lane's tries go in the order they were made.
  const turn = c.turn(group);
  try {
    // One copy without the group header, for both the stored task (read from a clone) and the live request.
    const live = new Request(request, { headers });
    const task = await readLive(live, caller, c);
    // A task this outbox holds (another handle sending it through here) is never stored again: it keeps no turn.
    const first = task.id === undefined ? undefined : await placeOf(c, undefined, task.id);
    if (first === 'own') turn.done();
    else await turn.wait(caller);
    return await tryLive(live, headers, task, group, caller, c);
  } finally {
    turn.done();
  }
}

/**
 * `live` read into a task. Its body's first bytes (what the task holds inside it, or enough to know it goes beside)
 * are read within `timeoutMs` and the caller's signal, like the attempt they are part of: a stream that stalls (an
 * upload still being made) held the call, and every later live request of its lane, for good. What is read of it
 * later, as the task is stored, is bounded by the caller's signal alone.
 */
async function readLive(live: Request, caller: AbortSignal | undefined, c: LiveFetchContext): Promise<HttpTask> {
  const first = new Deadline(c.clock, c.timeoutMs, caller);
  let reading: Reading = (read) => first.race(read);
  try {
    return await taskFromRequest(live, c.keyHeader, (read) => reading(read));
  } catch (error) {
    // Neither sent nor stored: the app's stream is told, as fetch tells it of an abort.
    live.body?.cancel(error).catch(() => undefined);
    caller?.throwIfAborted();
    if (!first.expired) throw error;
    throw new SluiceError('ERR_INVALID_TASK', `The request's body could not be read: its first ${INLINE_MAX} bytes did not all come within ${c.timeoutMs} ms (\`timeoutMs\`); it was neither sent nor stored.`, { cause: error });
  } finally {
    first.end();
    reading = (read) => untilAborted(read, caller);
  }
}

/**
 * Where the request stands among what the outbox stores. A store deleted under the outbox (a logout deleting the
 * database), closed by the browser (the site's data cleared: every engine closes it so) or failing, where this handle
 * holds nothing of its group nor the task itself (see `PendingStore.placeOf`), goes to the network, as it would with
 * none stored (a service worker's fetch handler failed every request, the server up, for as long as the worker
 * lived); should that fail, storing it is refused, typed.
 */
function placeOf(c: LiveFetchContext, group: string | undefined, id: string | undefined): Promise<'own' | 'behind' | undefined> {
  return c.placeOf(group, id).catch((error: unknown) => (STORE_GONE.has((error as Partial<SluiceError> | null)?.code) ? undefined : Promise.reject(error)));
}

const STORE_GONE = new Set<unknown>(['ERR_NOT_FOUND', 'ERR_STORAGE']);

/** One live try, in its lane's turn: stored behind the lane's pending tasks, else sent, and stored if it fails. */
async function tryLive(live: Request, headers: Headers, task: HttpTask, group: string | undefined, caller: AbortSignal | undefined, c: LiveFetchContext): Promise<Response> {
  const place = await placeOf(c, group, task.id);
  task.id ??= randomId() + randomId();
  if (group !== undefined) task.group = group;
  // What storing it would refuse (an empty 'Sluice-Group', a port fetch refuses) is refused
  // now, online or not: found only once the network failed, the request was lost exactly when it had to be stored.
  // Its body is the store's to check, as it is read.
  if (place !== 'own') prepareTask({ ...task, body: undefined }, undefined, c.clock.now(), c.keyHeader, true);
  const queue = async () => {
    // A body still being read (a stream past what the task holds) is read within the caller's signal alone, as an
    // enqueue reads one: its abort stops the store, and the request is not stored; once stored, the 202 stands.
    const id = await c.enqueue(task).catch((error: unknown) => {
      caller?.throwIfAborted();
      throw error;
    });
    return new Response(null, { status: 202, statusText: 'Accepted', headers: { 'Sluice-Queued': id } });
  };
  // An abort while the request was read or its group looked at: not stored, not sent.
  caller?.throwIfAborted();
  if (place === 'behind') return queue();
  if (c.keyHeader !== undefined) headers.set(c.keyHeader, task.id);
  const deadline = new Deadline(c.clock, c.timeoutMs, caller);
  const since = c.sight.seen();
  const origin = originOf(task.url);
  let response: Response;
  try {
    // Raced, for a transport that ignores the signal: the request is queued at the limit all the same. An answer
    // like a Response (a test's fake) goes back to the caller as a Response; anything else fails the attempt. The
    // signal goes to fetch itself: one of a Request made here, which fetch follows weakly, was collected with it, and
    // the request then outlived the limit.
    response = responseOf(await deadline.race(c.transport(live, { headers, signal: deadline.signal }), letGo));
  } catch (error) {
    deadline.end();
    // Its own handle stores it already: it hears of the failure as of any network error, and tries again.
    if (caller?.aborted || place === 'own') throw error;
    // A `fetch` of the app's that throws what is no network error, or answers what is no Response, failed the
    // attempt, as in delivery: stored to go again, and nothing said of the network.
    if (isTimeout(error) || deadline.expired || gaveUp(error) || !isNetworkError(error)) return queue();
    // An answer fetch could not read is stored to go again as any failed request, but its host is there. Said once
    // stored: a body whose own source failed (a file that could not be read) came as fetch's network error, but the
    // network is not at fault, and the store refuses that body.
    const answered = unreadableAnswer(error);
    const stored = await queue().catch((failure: unknown) => {
      if ((failure as Partial<SluiceError> | null)?.code !== 'ERR_INVALID_TASK') c.sight.saw(answered, false, origin, since);
      throw failure;
    });
    c.sight.saw(answered, false, origin, since);
    return stored;
  }
  // The server answered: whatever fails from here is no network error, and the request is not stored to go again.
  c.sight.saw(true, response.ok, origin, since);
  return bounded(response, deadline);
}

/**
 * `response`, its body still bounded by `deadline`, and the deadline ended once the body is read, so that no timer
 * outlives the exchange (one would keep a Node process alive). Each read is raced against the deadline rather than
 * left to the request's signal: a signal that follows another is held weakly by it (Request's, AbortSignal.any's),
 * and once collected the abort never reaches the body, which then stalls past the limit for good.
 */
function bounded(response: Response, deadline: Deadline): Response {
  if (!response.body) {
    deadline.end();
    return response;
  }
  const source = webBody(response).getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await deadline.race(source.read());
        if (!done) return controller.enqueue(value);
        deadline.end();
        controller.close();
      } catch (error) {
        deadline.end();
        source.cancel(error).catch(() => undefined);
        controller.error(error);
      }
    },
    cancel(reason) {
      deadline.end();
      return source.cancel(reason);
    },
  });
  // The copy shows where the answer came from, as fetch's response does: a POST redirected to a login page is no 200
  // of the URL asked. A status the Response constructor refuses (600 to 999, which Node's fetch passes on): a copy
  // made as a 200, its own status, text and ok over the constructor's, so that its body too ends the deadline once read.
  if (response.status >= 200 && response.status <= 599) return asAnswered(copyOf(body, response), response, FROM);
  return asAnswered(new Response(body, { status: 200, headers: response.headers }), response, [...FROM, 'status', 'statusText', 'ok']);
}

/** A body the caller can read as fetch's: a transport's answer like a Response (README allows one) may hold a Node stream. */
function webBody(response: Response): ReadableStream<Uint8Array> {
  const body = response.body as Partial<ReadableStream<Uint8Array>>;
  if (typeof body.getReader === 'function') return body as ReadableStream<Uint8Array>;
  return new ReadableStream({
    start: async (controller) => {
      controller.enqueue(new Uint8Array(await response.arrayBuffer()));
      controller.close();
    },
  });
}

/** What a copy of a response cannot be made with: where it came from. */
const FROM = ['url', 'redirected', 'type'] as const;

/** `copy` showing `answered`'s `fields`, as its clones do. */
function asAnswered(copy: Response, answered: Response, fields: readonly (keyof Response)[]): Response {
  const clone = (): Response => asAnswered(Response.prototype.clone.call(copy), answered, fields);
  const shown: PropertyDescriptorMap = { clone: { value: clone } };
  for (const field of fields) shown[field] = { value: answered[field] };
  return Object.defineProperties(copy, shown);
}
