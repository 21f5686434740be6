/**
 * What fetch would refuse, checked before anything is stored: a task that cannot be sent is refused at `enqueue`,
 * not discovered at every retry. The rules are fetch's own (https://fetch.spec.whatwg.org/): a header name is a
 * token; a header value is a byte string (Latin-1) without CR, LF or NUL; CONNECT, TRACE and TRACK are forbidden
 * methods; a URL must not carry credentials, nor name a bad port. Messages never echo a header value: it may be a secret.
 */

/**
 * Headers the transport sets itself from the connection and the body. Node's fetch throws on most (on a Content-Length
 * the body does not match, or waits for the rest of the body until the attempt times out), which would fail every
 * attempt of the task as if the network were down; browsers drop them silently (forbidden request headers).
 */
const TRANSPORT_HEADERS = new Set(['connection', 'content-length', 'expect', 'keep-alive', 'transfer-encoding', 'upgrade']);

/**
 * The host a relative `url` names when it is not `base`'s ('//host/x', '/\\host/x': relative to the scheme only), a
 * path slip that would send a request, and `headers()`' tokens, to that host; undefined for one on `base`'s host, or
 * a URL written whole (https://…), which names its host on purpose.
 */
export function otherHost(url: string, base: string | undefined): string | undefined {
  if (!base || /^[\x00-\x20]*[a-z][a-z\d+.-]*:/i.test(url)) return undefined;
  const { host } = new URL(url, base);
  return host === new URL(base).host ? undefined : host;
}

/** An HTTP token (RFC 9110 §5.6.2): header names and methods. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Methods fetch throws on. */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/**
 * A value every fetch sends: code units up to 0xFF (a byte string), with no control character but tab. Browsers refuse
 * only CR, LF and NUL; Node's refuses the rest as it writes the request, and a task must go from either.
 */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * An id usable as an 'Idempotency-Key' value: 1–256 visible ASCII characters, without '"' and ',' (a batch's key
 * joins its tasks' ids with commas).
 */
const ID = /^[\x21\x23-\x2b\x2d-\x7e]{1,256}$/;

/** Why `method` cannot be sent, or undefined when it can. */
export function methodProblem(method: string): string | undefined {
  if (!TOKEN.test(method)) return 'an HTTP method (a token)';
  if (FORBIDDEN_METHODS.has(method.toUpperCase())) return 'a method fetch allows (not CONNECT, TRACE or TRACK)';
  return undefined;
}

/** Why `value` cannot be a header value, in words that do not repeat it, or undefined when it can. */
export function headerValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `a string, got ${value === null ? 'null' : typeof value}`;
  if (HEADER_VALUE.test(value)) return undefined;
  // eslint-disable-next-line no-control-regex
  const what = /[\r\n]/.test(value) ? 'a line break' : /[\0-\x1f\x7f]/.test(value) ? 'a control character' : 'a character outside Latin-1';
  return `a header value (Latin-1, without control characters but tab), got a string of ${value.length} characters with ${what}`;
}

/**
 * Why `headers` (a record, as `OutboxOptions.headers` returns or a task holds) cannot be sent, naming the header
 * but never its value; undefined when it can.
 */
export function headersProblem(headers: unknown): { readonly field: string; readonly expected: string } | undefined {
  // `for…in` over a Headers or a Map sees its methods, not its entries: say what to pass instead of naming `append`.
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || typeof (headers as { get?: unknown }).get === 'function') {
    return { field: '', expected: 'a plain object of strings (a Headers or Map: Object.fromEntries(headers))' };
  }
  for (const name in headers) {
    if (!TOKEN.test(name)) return { field: `.${JSON.stringify(name)}`, expected: 'a valid header name (a token)' };
    if (TRANSPORT_HEADERS.has(name.toLowerCase())) return { field: `.${name}`, expected: 'a header fetch leaves to the caller (not Connection, Content-Length, Expect, Keep-Alive, Transfer-Encoding or Upgrade: fetch sets those itself)' };
    const problem = headerValueProblem((headers as Record<string, unknown>)[name]);
    if (problem) return { field: `.${name}`, expected: problem };
  }
  return undefined;
}

export function isUsableId(id: string): boolean {
  return ID.test(id);
}

/** True when `url` carries a user name or password (fetch refuses those). */
export function hasCredentials(url: URL): boolean {
  return url.username !== '' || url.password !== '';
}

/**
 * The ports fetch refuses to connect to, the Fetch standard's "bad ports" (as Node's fetch and browsers have them),
 * and 0, which no server listens on. A task to one fails every attempt before it leaves, as a network error would.
 */
const BAD_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123,
  135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995,
  1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** What a URL on a port fetch refuses should be (see `BAD_PORTS`); undefined for one it connects to, or none given. */
export function badPort(url: URL): string | undefined {
  return url.port !== '' && BAD_PORTS.has(Number(url.port)) ? `a URL on a port fetch connects to (it refuses ${url.port}, a port of another protocol)` : undefined;
}

/**
 * Sets header `name` on a plain record, `__proto__` (a token, so a header name) as an own property rather than through
 * the setter that would swallow it: records handed to an app's `fetch` keep Object's prototype (its methods).
 */
export function setHeader(headers: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  else headers[name] = value;
}
