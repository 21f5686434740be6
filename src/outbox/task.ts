import { describe, SluiceError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { unknownKey } from '../core/validate.js';
import { decodeBody, encodeBody, impliedType, INLINE_MAX, isSource, type BodySource, type StoredBody } from './body.js';
import { badPort, hasCredentials, headersProblem, isUsableId, methodProblem, otherHost, setHeader } from './http-checks.js';
import { shownName, type KeyHeader } from './key-header.js';
import { utf8Length } from './utf8-length.js';

export type { StoredBody } from './body.js';

// `Request.mode` and `Request.credentials` spelled out: Node's types have no global `RequestMode` or
// `RequestCredentials`, and the public types must compile without the DOM lib.
/** A `Request`'s `mode`. */
export type TaskMode = 'cors' | 'navigate' | 'no-cors' | 'same-origin';
/** A `Request`'s `credentials`. */
export type TaskCredentials = 'include' | 'omit' | 'same-origin';

/** An HTTP request to deliver, as users give it to `Outbox.enqueue`. */
export interface HttpTask {
  /** Absolute, or relative to `OutboxOptions.baseUrl`; http(s) only. */
  url: string;
  /** @default 'POST' */
  method?: string | undefined;
  /** Stored with the task: no secrets here (use `OutboxOptions.headers`, evaluated per send and never stored). @default none */
  headers?: Record<string, string> | undefined;
  /**
   * A string, bytes (an ArrayBuffer or any typed array), a Blob or File, FormData, URLSearchParams, a ReadableStream
   * or (in Node) a Readable: sent as they are, with their content type where they have one; any other object is sent
   * as JSON with content-type application/json (one holding a Map or Set, which JSON writes as `{}`, is refused). Bodies over 64 KB, and every Blob, FormData and stream, are stored
   * beside the task in chunks (up to `OutboxOptions.maxBodyBytes`) and streamed when sent; events and dead letters
   * show them as a `BodyRef` (size and type).
   * @default none
   */
  body?: string | Uint8Array | ArrayBuffer | object | null | undefined;
  /**
   * The idempotency key, sent on every attempt in the header `OutboxOptions.idempotencyHeader` names
   * ('Idempotency-Key' by default; none with `false`). @default a generated random id
   */
  id?: string | undefined;
  /** Tasks of one group are delivered in enqueue order. @default the default group (one for every task without one) */
  group?: string | undefined;
  /** Higher drains first among the tasks that ordering allows to go. @default 'normal' */
  priority?: 'high' | 'normal' | 'low' | undefined;
  /** Epoch ms before which the task is not sent. @default none: sent at once */
  notBefore?: number | undefined;
  /** Epoch ms after which an undelivered task goes to dead as 'expired'. @default none: never expires */
  expiresAt?: number | undefined;
  /** Coalescing key: a newer task with the same key replaces an older one not yet in flight ('superseded'). @default none */
  key?: string | undefined;
  /** Kept from a `Request`; passed to fetch. @default fetch's own ('cors') */
  mode?: TaskMode | undefined;
  /** Kept from a `Request`; passed to fetch. @default fetch's own ('same-origin') */
  credentials?: TaskCredentials | undefined;
}

/** A task as the outbox stores it: normalised, absolute, with its id and enqueue time. */
export interface StoredTask {
  readonly id: string;
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: StoredBody;
  readonly group?: string;
  readonly priority?: 'high' | 'low';
  readonly notBefore?: number;
  readonly expiresAt?: number;
  readonly key?: string;
  readonly mode?: TaskMode;
  readonly credentials?: TaskCredentials;
  /** Epoch ms of the first enqueue: `retry.maxAgeMs` counts from here. */
  readonly createdAt: number;
  /** The dead letter it was retried from, so that `reconcile` finds that very letter after a crash. */
  readonly retriedFrom?: string;
}

const PRIORITIES = ['high', 'normal', 'low'];
const MODES = ['cors', 'navigate', 'no-cors', 'same-origin'];
const CREDENTIALS = ['include', 'omit', 'same-origin'];

/** Throws 'ERR_INVALID_TASK' naming `field`, what was expected and what was given. */
function bad(field: string, expected: string, given: unknown): never {
  refuse(field, `${expected}, got ${describe(given)}`);
}

/** Throws 'ERR_INVALID_TASK' naming `field`; `expectation` says what was given where that is safe to repeat. */
function refuse(field: string, expectation: string): never {
  throw new SluiceError('ERR_INVALID_TASK', `Expected task \`${field}\` to be ${expectation}.`);
}

function optionalString(task: Record<string, unknown>, field: string): string | undefined {
  const value = task[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) bad(field, 'a non-empty string', value);
  return value;
}

function optionalTime(task: Record<string, unknown>, field: string, slips: boolean): number | undefined {
  const value = task[field];
  if (value === undefined) return undefined;
  // Past a Date's range (±8.64e15) it is no time: a task not to be sent before 1e300 would wait for ever, stored.
  if (typeof value !== 'number' || !(Math.abs(value) <= 8.64e15)) bad(field, `epoch milliseconds of a date (a number from -8.64e15 to 8.64e15${value instanceof Date ? ': pass date.getTime()' : ''})`, value);
  // Early 1970 (before 1e11 ms, March 1973) is a slip: seconds (Date.now() / 1000), or a duration meant from now. As
  // given, an expiresAt would make the task dead at once, a notBefore nothing at all.
  if (slips && value > 0 && value < 1e11) bad(field, `epoch milliseconds of a date (Date.now() + ms), not seconds or a duration (as milliseconds, that is ${new Date(value).getUTCFullYear()})`, value);
  // -0 is the epoch as well; stored as it is, the codec would refuse it (it comes back as 0).
  return value === 0 ? 0 : value;
}

/** `url` made absolute against `baseUrl`; only http(s). */
export function resolveUrl(url: unknown, baseUrl: string | undefined): string {
  if (typeof url !== 'string' || url.length === 0) bad('url', 'a non-empty string', url);
  let parsed: URL;
  try {
    parsed = new URL(url, baseUrl);
  } catch {
    bad('url', baseUrl ? `a URL (absolute or relative to ${baseUrl})` : 'an absolute URL (no `baseUrl` is set)', url);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') bad('url', 'an http(s) URL', url);
  const port = badPort(parsed);
  if (port) bad('url', port, url);
  // Resolved as URLs are, a path-relative URL replaces the last segment of a base path without its closing '/':
  // 'notes' against 'https://api.test/v1' is https://api.test/notes, never what was meant.
  if (baseUrl !== undefined && !/^([a-z][a-z\d+.-]*:|[/?#])/i.test(url)) {
    const path = new URL(baseUrl).pathname;
    if (!path.endsWith('/')) refuse('url', `absolute, or relative to a \`baseUrl\` whose path ends in '/': '${url}' against ${baseUrl} would lose '${path.slice(path.lastIndexOf('/') + 1)}' (end \`baseUrl\` with '/', or start the URL with '/')`);
  }
  const other = otherHost(url, baseUrl);
  if (other) bad('url', `a path on ${new URL(baseUrl!).host}, or a whole URL (https://…) for another host; it names the host ${other}`, url);
  // Not echoed: the password is the point.
  if (hasCredentials(parsed)) refuse('url', 'a URL without credentials (user:password@): send them in `OutboxOptions.headers`');
  return parsed.href;
}

const TASK_FIELDS = ['url', 'method', 'headers', 'body', 'id', 'group', 'priority', 'notBefore', 'expiresAt', 'key', 'mode', 'credentials'];

/**
 * Validates an `HttpTask` and returns its stored form, for a body that fits the task (what `onBeforeSend` may
 * return: a body to store beside the task must come through `enqueue`). Bad input: 'ERR_INVALID_TASK' naming the field.
 */
export function normaliseTask(input: HttpTask, baseUrl: string | undefined, now: number, key: KeyHeader): StoredTask {
  const { task, upload } = prepareTask(input, baseUrl, now, key);
  if (upload) refuse('body', `one that fits the task (at most ${INLINE_MAX} bytes, not a Blob, FormData or stream) when not enqueued`);
  return task;
}

/**
 * Validates an `HttpTask`: its stored form, and the body to store beside it first (`upload`, then `body` is set to
 * where it went). `key`: the header the id goes in (`OutboxOptions.idempotencyHeader`), which the task may not set.
 * Bad input: 'ERR_INVALID_TASK' naming the field.
 */
export function prepareTask(input: HttpTask, baseUrl: string | undefined, now: number, key: KeyHeader, enqueued = false): { task: StoredTask; upload?: BodySource } {
  if (typeof input !== 'object' || input === null || input instanceof URL) {
    throw new SluiceError('ERR_INVALID_TASK', `Expected a task: an HttpTask ({ url, method, body, … }) or a Request, got ${describe(input)}.`);
  }
  const task = input as unknown as Record<string, unknown>;
  // A misspelt field would be dropped, silently: `methd: 'PUT'` sent as a POST.
  const unknown = unknownKey(task, TASK_FIELDS);
  if (unknown !== undefined) refuse(unknown, `one of an HttpTask's fields (${TASK_FIELDS.join(', ')}): it is none`);
  const url = resolveUrl(task.url, baseUrl);
  // Checked as given, then upper-cased: a non-ASCII letter upper-cases to ASCII ('poſt' to 'POST'), which would make a
  // method fetch refuses into another one.
  const given = optionalString(task, 'method') ?? 'POST';
  const methodError = methodProblem(given);
  if (methodError) bad('method', methodError, task.method);
  const method = given.toUpperCase();
  // A header named `constructor` or `__proto__` (both tokens) is a header like any other: not one found twice (an own
  // name is looked for), nor one the `__proto__` setter swallows (see `setHeader`).
  const headers: Record<string, string> = {};
  if (task.headers !== undefined) {
    const problem = headersProblem(task.headers);
    if (problem) refuse(`headers${problem.field}`, problem.expected);
    for (const [name, value] of Object.entries(task.headers as Record<string, string>)) {
      const lower = name.toLowerCase();
      // At enqueue, one of two would go, the other lost without a word (fetch would join them with a comma), and a
      // key set here would be replaced by the task id, silently. A task `onBeforeSend` edits (its stored names are
      // lower-case: `Authorization` replaces `authorization`) or one stored by an earlier version keeps the last.
      if (enqueued && Object.hasOwn(headers, lower)) refuse(`headers.${name}`, `one header of each name, whatever its case: \`${lower}\` is given twice`);
      if (lower !== key) setHeader(headers, lower, value);
      else if (enqueued) refuse(`headers.${name}`, `absent: every request carries the task id as its ${shownName(key)} (the \`idempotencyHeader\` option; set \`id\` to choose the key)`);
    }
  }
  const encoded = encodeBody(task.body, enqueued);
  // Not echoed: a form or JSON sent as a GET by mistake holds what the app would not log (a password).
  if (encoded && (method === 'GET' || method === 'HEAD')) refuse('body', `absent for a ${method} request`);
  const upload = isSource(encoded) ? encoded : undefined;
  const body = isSource(encoded) ? undefined : encoded;
  const type = body && 'json' in body ? 'application/json' : (upload?.type ?? impliedType(task.body));
  if (type !== undefined && (upload?.typeWins || !headers['content-type'])) headers['content-type'] = type;
  // Left out, it is 'normal'; null is refused, as for every field but `body`.
  const priority = task.priority === undefined ? 'normal' : task.priority;
  if (!PRIORITIES.includes(priority as string)) bad('priority', "'high', 'normal' or 'low'", task.priority);
  const id = optionalString(task, 'id') ?? randomId() + randomId();
  if (!isUsableId(id)) bad('id', 'usable as an Idempotency-Key: 1–256 visible ASCII characters, without \'"\' and \',\'', id);
  const out: Record<string, unknown> = { id, url, method, headers, createdAt: now };
  if (body) out.body = body;
  for (const field of ['group', 'key'] as const) {
    const value = optionalString(task, field);
    if (value !== undefined) out[field] = value;
  }
  if (priority !== 'normal') out.priority = priority;
  for (const field of ['notBefore', 'expiresAt'] as const) {
    // Looked for at enqueue, on a clock of these years only: not in a task stored before, nor under a test's clock at 0.
    const value = optionalTime(task, field, enqueued && now >= 1e11);
    if (value !== undefined) out[field] = value;
  }
  // It would go to dead as 'expired' without an attempt.
  if ((out.expiresAt as number) < (out.notBefore as number)) bad('notBefore', `no later than \`expiresAt\` (${out.expiresAt as number})`, out.notBefore);
  if (task.mode !== undefined) {
    if (!MODES.includes(task.mode as string)) bad('mode', "'cors', 'navigate', 'no-cors' or 'same-origin'", task.mode);
    if (task.mode === 'no-cors' && !['GET', 'HEAD', 'POST'].includes(method)) bad('mode', `one fetch sends a ${method} in ('no-cors' takes GET, HEAD and POST only)`, task.mode);
    out.mode = task.mode;
  }
  if (task.credentials !== undefined) {
    if (!CREDENTIALS.includes(task.credentials as string)) bad('credentials', "'include', 'omit' or 'same-origin'", task.credentials);
    out.credentials = task.credentials;
  }
  return upload ? { task: out as unknown as StoredTask, upload } : { task: out as unknown as StoredTask };
}

/** The stored task as users see it in events and dead letters. */
export function publicTask(task: StoredTask): HttpTask & { id: string } {
  const out: HttpTask & { id: string } = { id: task.id, url: task.url, method: task.method, headers: { ...task.headers } };
  if (task.body) out.body = decodeBody(task.body, task.headers['content-type']);
  if (task.group !== undefined) out.group = task.group;
  out.priority = task.priority ?? 'normal';
  if (task.notBefore !== undefined) out.notBefore = task.notBefore;
  if (task.expiresAt !== undefined) out.expiresAt = task.expiresAt;
  if (task.key !== undefined) out.key = task.key;
  if (task.mode !== undefined) out.mode = task.mode;
  if (task.credentials !== undefined) out.credentials = task.credentials;
  return out;
}

/** Bytes the task takes in storage, its body beside it included, near enough for budgets. */
export function taskBytes(task: StoredTask): number {
  const beside = task.body && 'blob' in task.body ? task.body.blob.size : 0;
  return utf8Length(JSON.stringify(task)) + beside;
}

/** The blob key of a task's body stored beside it, if it has one. */
export function blobKey(task: StoredTask): string | undefined {
  return task.body && 'blob' in task.body ? task.body.blob.key : undefined;
}

export function isRequest(value: unknown): value is Request {
  return typeof Request === 'function' && value instanceof Request;
}
