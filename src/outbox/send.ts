import { describe, messageOf } from '../core/errors.js';
import type { BlobRef } from './body.js';
import type { BodyStore, OpenedBody } from './body-store.js';
import type { Deadline } from './deadline.js';
import type { Reachability } from './reachability.js';
import { isTimeout } from './deadline.js';
import { HEADER_VALUE, headersProblem } from './http-checks.js';
import { nextHop, redirectOf, withoutBodyHeaders, MAX_HOPS, type Redirect, type RedirectPolicy } from './redirects.js';
import type { KeyHeader } from './key-header.js';
import { batchable, buildBatchRequest, buildRequest, type Send } from './request.js';
import { errorText, scrub } from './scrub.js';
import type { StoredTask } from './task.js';
import type { ResponseLike, Transport } from './options.js';

/**
 * How one attempt's exchange ended: a final response (not a redirect), no response (an error: a network failure, a
 * timeout), a request that could not be built (a verdict on the task, never a network failure), or a redirect that
 * is not to be followed. `secrets` are the values of the per-send headers, to scrub from any error text kept; `sent`,
 * the request fetch rejected (to tell a CORS refusal from a network error, see `CorsChecks`).
 */
export type Exchange =
  | { readonly kind: 'response'; readonly response: Response; readonly secrets: readonly string[] }
  | { readonly kind: 'error'; readonly error: Error; readonly network: boolean; readonly secrets: readonly string[]; readonly sent?: Send }
  | { readonly kind: 'invalid'; readonly error: string }
  | { readonly kind: 'redirect'; readonly redirect: Redirect };

export interface SendOptions {
  readonly fetch: Transport;
  readonly headers: (() => Record<string, string> | Promise<Record<string, string>>) | undefined;
  /** The absolute batch URL in batch mode. */
  readonly batchUrl: string | undefined;
  /** The header the task id (a batch's key) goes in, if any (see `buildRequest`). */
  readonly keyHeader: KeyHeader;
  readonly redirect: RedirectPolicy;
  readonly bodies: BodyStore;
  /** Whether the platform says the network is gone, asked when a failure could be either that or a refusal. */
  readonly reachability: Pick<Reachability, 'hintsOffline'>;
  /** Values of the tasks' own headers never to keep (those `onBeforeSend` added), beside `headers()`'s. */
  readonly secrets?: readonly string[] | undefined;
}

const NONE: readonly string[] = [];

/**
 * Sends one task, or several as a batch, within `deadline`; never rejects. The per-send headers are asked for and
 * checked first. A provider that throws fails this attempt, not the task (its token endpoint out of reach, offline):
 * a retry, which must not pass for a network failure either. One that returns what fetch would refuse makes the
 * request unbuildable ('invalid'). Redirects are followed only as `redirect` allows.
 */
export async function send(tasks: readonly StoredTask[], options: SendOptions, deadline: Deadline): Promise<Exchange> {
  let perSend: Readonly<Record<string, string>> = {};
  let secrets = options.secrets ?? NONE;
  // Awaited only when there is a provider: each await is a turn of the event loop on every request.
  if (options.headers) {
    try {
      perSend = (await deadline.race(options.headers())) ?? {};
    } catch (error) {
      return { kind: 'error', error: isTimeout(error) ? (error as Error) : new Error(`\`headers()\` threw: ${errorText(error, NONE)}`), network: false, secrets };
    }
    const problem = headersProblem(perSend);
    if (problem) return { kind: 'invalid', error: `Expected \`headers()\` to return${problem.field ? ` for \`${problem.field.slice(1)}\`` : ''} ${problem.expected}.` };
    secrets = [...secrets, ...Object.values(perSend)];
  }
  const batch = options.batchUrl !== undefined && (tasks.length > 1 || batchable(tasks[0]!));
  const task = tasks[0]!;
  // A body stored beside the task is opened for each request (a stream is read once).
  let opened: OpenedBody | string | undefined;
  const open = async (blob: BlobRef): Promise<OpenedBody | Exchange> => {
    try {
      opened = await deadline.race(options.bodies.open(blob, task.headers['content-type']));
    } catch (error) {
      // Where bodies are kept was deleted (another tab, the site's data cleared): this one is gone, and no retry finds it.
      if ((error as { code?: unknown } | null)?.code === 'ERR_NOT_FOUND') return { kind: 'invalid', error: `Its stored body is gone: ${errorText(error, secrets)}` };
      return failed(error, deadline, secrets);
    }
    return typeof opened === 'string' ? { kind: 'invalid', error: opened } : opened;
  };
  // Built at once when there is nothing to open: no turn of the microtask queue before the request goes.
  const build = (): Send | Exchange | Promise<Send | Exchange> => {
    if (batch) return buildBatchRequest(options.batchUrl!, tasks, perSend, deadline.signal, options.keyHeader);
    if (!task.body || !('blob' in task.body)) return buildRequest(task, perSend, deadline.signal, options.keyHeader);
    return open(task.body.blob).then((opened) => ('kind' in opened ? opened : buildRequest(task, perSend, deadline.signal, options.keyHeader, opened)));
  };
  const built = build();
  const first = built instanceof Promise ? await built : built;
  if ('kind' in first) return first;
  let request = first;
  // Once a hop turned the request into a GET, no later hop (a 307 keeps what it is given) puts the body back.
  let bodied = true;
  for (let hops = 0; ; hops++) {
    let response: Response;
    try {
      // Raced: a transport that ignores the abort signal (a wrapper that drops it) must not hold the attempt, and
      // with it `flush`, `stop` and `close`, past the deadline.
      response = responseOf(await deadline.race(options.fetch(request.url, request.init), letGo));
    } catch (error) {
      // The stored body broke off the request when its bytes failed their checksum: no retry sends it whole.
      const damaged = typeof opened === 'object' ? opened.damaged?.() : undefined;
      if (damaged) return { kind: 'invalid', error: damaged };
      return failed(error, deadline, secrets, request);
    }
    const redirect = redirectOf(response);
    if (!redirect) return { kind: 'response', response, secrets };
    // Its body is of no use; cancelled so the connection is not held.
    void letGo(response);
    if (options.redirect === 'error') return stands(redirect, secrets);
    if (redirect.status === 0) return followOpaque(request, options, redirect, deadline, secrets);
    const hop = hops < MAX_HOPS ? nextHop(request.url, (request.init.method ?? 'GET').toUpperCase(), redirect) : undefined;
    if (!hop) return stands(redirect, secrets);
    const init: RequestInit = { ...request.init, method: hop.method };
    bodied &&= hop.hasBody;
    if (bodied) {
      const again = await build();
      if ('kind' in again) return again;
      init.body = again.init.body!;
    } else {
      delete init.body;
      delete (init as { duplex?: string }).duplex;
      init.headers = withoutBodyHeaders(init.headers as Record<string, string>);
    }
    request = { url: hop.url, init };
  }
}

/** A redirect that stands (dead as 'redirect'), its Location without what `headers()` gave: a server may echo a token. */
function stands(redirect: Redirect, secrets: readonly string[]): Exchange {
  // Its escapes in upper case, as the scrub looks for a secret encoded (`%2B`, not `%2b`): the same URL.
  return { kind: 'redirect', redirect: redirect.location === undefined ? redirect : { ...redirect, location: scrub(redirect.location.replace(/%[\da-f]{2}/gi, (x) => x.toUpperCase()), secrets) } };
}

/**
 * A browser's opaque redirect hides where it points. Sent again with fetch following redirects in mode
 * 'same-origin', fetch itself refuses (a network error, before any request leaves) a redirect to another origin,
 * or a task whose URL is not of the page's origin: then the redirect stands, dead as 'redirect'. The same error
 * comes when the network went in between; where the platform says it is gone, that is what it is, and it is retried.
 */
async function followOpaque(request: Send, options: SendOptions, redirect: Redirect, deadline: Deadline, secrets: readonly string[]): Promise<Exchange> {
  try {
    const response = await deadline.race(options.fetch(request.url, { ...request.init, redirect: 'follow', mode: 'same-origin' }), letGo);
    return { kind: 'response', response: responseOf(response), secrets };
  } catch (error) {
    return isTimeout(error) || deadline.expired || options.reachability.hintsOffline ? failed(error, deadline, secrets) : stands(redirect, secrets);
  }
}

/**
 * `value`, a transport's answer, when it is a Response (or looks like one: a polyfill's); else it throws, so that a
 * `fetch` wrapper that resolves with something else fails the attempt (retried, not taken for a network outage)
 * instead of failing deep inside on what it lacks.
 */
export function responseOf(value: unknown): Response {
  const response = value as Response | undefined;
  if (typeof response?.status === 'number' && typeof response.headers?.get === 'function' && typeof response.arrayBuffer === 'function') return asResponse(response);
  throw new Error(`Expected \`fetch\` to resolve with a Response, got ${describe(value)}.`);
}

/**
 * `like` as a Response, for `classify`, the 'sent' event and `Outbox.fetch`'s caller, which read what a Response has
 * (`ok`, `statusText`, `headers.has`, `json()`), when it has only what `ResponseLike` names (a test's fake). One with
 * `ok` and `text` (a Response of another fetch: undici's from npm, node-fetch's) goes as it came, its body streamed as
 * it is. The body is read from `arrayBuffer` only when the Response's is; headers it cannot list are read by name. A
 * status no Response can have (outside 200–599), or what the constructor refuses, leaves it as it came.
 */
export function asResponse(like: Response | ResponseLike): Response {
  const status = (like as Partial<ResponseLike> | undefined)?.status;
  const whole = like instanceof Response || (typeof (like as Partial<Response>).ok === 'boolean' && typeof (like as Partial<Response>).text === 'function');
  if (typeof Response !== 'function' || whole || typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return like as Response;
  try {
    return fromLike(like, status);
  } catch {
    return like as Response;
  }
}

function fromLike(like: ResponseLike, status: number): Response {
  const source = like.headers as ResponseLike['headers'] & { forEach?: (each: (value: string, name: string) => void) => void };
  const listed = typeof source.forEach === 'function';
  const headers = new Headers();
  if (listed) source.forEach!((value, name) => headers.append(name, value));
  // No high-water mark: the body is asked for only when read (an answer whose body is let go is never read).
  const body = [204, 205, 304].includes(status)
    ? null
    : new ReadableStream<Uint8Array>(
        {
          pull: async (controller) => {
            controller.enqueue(new Uint8Array(await like.arrayBuffer()));
            controller.close();
          },
          cancel: () => letGo(like),
        },
        { highWaterMark: 0 },
      );
  // One the constructor would refuse (a polyfill's decoding of a phrase outside Latin-1) is left out, as `copyOf` does:
  // a reason phrase has a header value's characters.
  const text = (like as { statusText?: unknown }).statusText;
  const statusText = typeof text === 'string' && HEADER_VALUE.test(text) ? text : '';
  const response = new Response(body, { status, statusText, headers });
  if (!listed) Object.defineProperty(response, 'headers', { value: Object.assign(headers, { get: (name: string) => source.get(name) ?? null, has: (name: string) => source.get(name) != null }) });
  return response;
}

/**
 * Lets go of a response's body unread (one not wanted, or one that came after its attempt gave up on it), so that its
 * connection is not held. Never rejects: a failed cancel only means the connection is gone. A polyfill's body may be a
 * Node stream, which has `destroy`, not `cancel`.
 */
export function letGo(response: Response | ResponseLike | undefined): Promise<void> {
  const body = (response as { body?: unknown } | undefined)?.body as { cancel?: () => Promise<void>; destroy?: () => void } | null | undefined;
  try {
    if (typeof body?.cancel === 'function') return body.cancel().catch(() => undefined);
    if (typeof body?.destroy === 'function') body.destroy();
  } catch {
    // As a failed cancel.
  }
  return Promise.resolve();
}

/**
 * What Node's fetch (undici) rejects with when it cannot make the request it was given (a header it refuses, a body
 * its Content-Length does not match): no network error, and the same request fails the same way every time.
 */
const UNBUILDABLE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);

function failed(error: unknown, deadline: Deadline, secrets: readonly string[], sent?: Send): Exchange {
  // A transport may reject with anything; classify always gets an Error.
  const err = error instanceof Error ? error : new TypeError(`The request failed: ${messageOf(error)}`, { cause: error });
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  // A bad port (see `badPort`): refused at enqueue, but a task stored by an older version may name one.
  const refused = (typeof cause?.code === 'string' && UNBUILDABLE.has(cause.code)) || cause?.message === 'bad port';
  if (!deadline.expired && refused) return { kind: 'invalid', error: `fetch refused the request: ${errorText(err, secrets)}` };
  const malformed = unreadableAnswer(err);
  const network = isNetworkError(err) && !deadline.expired && !malformed && !gaveUp(err);
  return { kind: 'error', error: deadline.expired ? deadline.error() : err, network, secrets, ...(network && sent && { sent }) };
}

/** Node's fetch gave up by itself, after 300 s without headers or between two body chunks: a timeout, as `timeoutMs`'s. */
export function gaveUp(error: unknown): boolean {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/**
 * The server answered, with what Node's fetch cannot parse (a header byte it refuses, a bad status line, headers past
 * its limit, a 1xx or 101 it did not ask for): fetch rejects as for a network error, but the host is there.
 */
export function unreadableAnswer(error: unknown): boolean {
  const cause = (error as { cause?: { name?: unknown; code?: unknown; message?: unknown } } | null)?.cause;
  // A status under 100 fails an assertion of the parser's own (ERR_ASSERTION): a bad status line too.
  const parser = cause?.name === 'HTTPParserError' || cause?.code === 'ERR_ASSERTION';
  return cause !== undefined && (parser || cause.code === 'UND_ERR_HEADERS_OVERFLOW' || (cause.code === 'UND_ERR_SOCKET' && /^bad (response|upgrade)$/.test(String(cause.message))));
}

/** fetch rejects with a TypeError when no response came (DNS, refused, reset); aborts are not network errors. */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}

/**
 * Frees the connection of a response whose body nobody reads. A small body is read to its end, so the connection
 * goes back to the pool (cancelling a body can close it); a large or unsized one is cancelled. Within `deadline`:
 * a body that stalls is given up when the attempt's time is up.
 */
export async function discard(response: Response, deadline: Deadline): Promise<void> {
  if (response.bodyUsed || !response.body) return;
  const length = Number(response.headers.get('content-length') ?? Infinity);
  // A failed read or cancel only means the connection is gone: there is nothing left to free.
  if (length <= 65_536 && !deadline.expired) await deadline.race(response.arrayBuffer()).catch(() => letGo(response));
  else await letGo(response);
}
