import { setHeader } from './http-checks.js';

/**
 * `OutboxOptions.redirect`. Requests go out with fetch's `redirect: 'manual'`, so that a 3xx is seen, never followed
 * behind the outbox's back: a task is sent only on a final 2xx from the URL it was sent to (Workbox and others
 * counted a POST answered 301 as delivered, and let fetch carry its API key and body to wherever the Location
 * pointed). In Node, Deno and workers fetch hands back the 3xx itself (undici returns the real response, nodejs/undici
 * #1210); in browsers it is an opaque redirect (status 0, no headers: the Location is hidden).
 */
export type RedirectPolicy = 'error' | 'follow-same-origin';

/** Most redirects followed for one attempt (fetch follows 20; an outbox has no reason to chase more than a few). */
export const MAX_HOPS = 5;

/** What a redirect response says: its status (0 for a browser's opaque redirect) and Location when visible. */
export interface Redirect {
  readonly status: number;
  readonly location?: string;
}

/** The statuses fetch follows (https://fetch.spec.whatwg.org/#redirect-status); any other 3xx is a final response. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The redirect `response` is, or undefined when it is a final response (a 300, 304 or 305, or a 3xx without Location). */
export function redirectOf(response: Response): Redirect | undefined {
  if (response.type === 'opaqueredirect') return { status: response.status };
  if (!REDIRECT_STATUSES.has(response.status)) return undefined;
  const location = response.headers.get('location');
  return location === null ? undefined : { status: response.status, location };
}

/** Headers that describe a body: dropped with it when a redirect turns the request into a GET (as fetch does). */
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length'];

/**
 * The request a same-origin redirect asks for, or undefined when it points to another origin (or nowhere usable, or
 * to a URL with credentials).
 * The method changes as fetch changes it: 301 and 302 turn a POST into a GET, 303 turns anything but GET and HEAD
 * into a GET, each without its body; 307 and 308 keep method and body. `hasBody` says whether the next request
 * still carries the body (the caller builds it again: a body is sent once per request).
 */
export function nextHop(from: string, method: string, { status, location }: Redirect): { url: string; method: string; hasBody: boolean } | undefined {
  if (location === undefined) return undefined;
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    return undefined;
  }
  // Credentials in the URL: fetch refuses such a request, which would pass for a network failure and retry for ever.
  if (target.origin !== new URL(from).origin || target.username || target.password) return undefined;
  const toGet = ((status === 301 || status === 302) && method === 'POST') || (status === 303 && method !== 'GET' && method !== 'HEAD');
  return { url: target.href, method: toGet ? 'GET' : method, hasBody: !toGet };
}

/** `headers` without those that describe a body. */
export function withoutBodyHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) if (!BODY_HEADERS.includes(name)) setHeader(out, name, headers[name]!);
  return out;
}
