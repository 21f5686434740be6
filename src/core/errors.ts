/** Every code a `SluiceError` can carry. Stable: match on these, not on messages. */
export type SluiceErrorCode =
  | 'ERR_INVALID_NAME'
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_TASK'
  | 'ERR_NOT_SERIALIZABLE'
  | 'ERR_ITEM_TOO_LARGE'
  | 'ERR_QUOTA_EXCEEDED'
  | 'ERR_CLOSED'
  | 'ERR_LOCKED'
  | 'ERR_CORRUPT'
  | 'ERR_LEASE_EXPIRED'
  | 'ERR_INCOMPATIBLE_STORE'
  | 'ERR_STORAGE'
  | 'ERR_NOT_FOUND'
  | 'ERR_CORS';

const brand = Symbol.for('sluice.SluiceError');

/**
 * The one error type sluice throws on purpose. `code` is stable; `cause` holds the underlying error (a
 * DOMException, an errno error) where there is one. `instanceof` holds across duplicate copies of the package.
 */
export class SluiceError extends Error {
  readonly code: SluiceErrorCode;

  constructor(code: SluiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
    this.code = code;
  }

  get [brand](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/** `count` and its noun, plural but for one: "1 item", "3 items" ("1 entry", "3 entries" given the plural). */
export function counted(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}

/**
 * What a thrown value says: an Error's message, or the value as text. Never throws: a value may have no `toString`
 * (`Object.create(null)`) or one that throws, and the error that tells of it must not fail in its place.
 */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    // An Error of another realm (an iframe's, a vm context's), or an object thrown with a message of its own.
    const message = (error as { message?: unknown } | null | undefined)?.message;
    return typeof message === 'string' ? message : String(error);
  } catch {
    try {
      return Object.prototype.toString.call(error);
    } catch {
      return 'a value that cannot be shown';
    }
  }
}

/**
 * `text` without a URL's user and password, wherever a URL stands in it: after a scheme at its start, or after the
 * first `//` (a URL in quotes kept by an env file, a scheme-relative one, one a platform's message quotes), up to the
 * last '@', whatever they hold unencoded ('#', '?', '/', '@'); elsewhere after a scheme with fewer slashes
 * (`http:/u:pw@h`), up to an '@' with no space or slash before it. Logs keep messages.
 */
export function withoutUserinfo(text: string): string {
  return text
    .replace(/^(\s*[a-z][a-z\d+.-]*:\/*).*@/is, '$1***@')
    .replace(/([\\/][\\/]).*@/s, '$1***@')
    .replace(/(^|[^a-z\d+.-])([a-z][a-z\d+.-]*:\/{0,3})[^\s@/]*@/gi, '$1$2***@');
}

/** Renders a value for an error message, short and unambiguous. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    // A URL's credentials are never echoed, even in one refused for another reason (its scheme, a typo, quotes).
    const shown = withoutUserinfo(value);
    return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value !== 'object') return typeof value;
  // An instance of a class by its name ("a Map", "a Uint8Array"): "an object" would not say what is wrong with it.
  let name: unknown;
  try {
    if (Array.isArray(value)) return 'an array';
    name = Object.getPrototypeOf(value)?.constructor?.name;
  } catch {
    // A revoked Proxy, or a getter that throws: said as any object.
  }
  return typeof name === 'string' && name !== 'Object' && name !== '' ? `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
}
