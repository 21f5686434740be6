import { describe, SluiceError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { hasCredentials, headersProblem, isUsableId, methodProblem } from './http-checks.js';

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
  method?: string;
  /** Stored with the task: no secrets here (use `OutboxOptions.headers`, evaluated per send and never stored). */
  headers?: Record<string, string>;
  /** A string or bytes are sent as they are; an object is sent as JSON with content-type application/json. */
  body?: string | Uint8Array | object;
  /** The idempotency key, sent as 'Idempotency-Key' on every attempt. Generated when absent. */
  id?: string;
  /** Tasks of one group are delivered in enqueue order. A task without a group is in the default group. */
  group?: string;
  /** Higher drains first among the tasks that ordering allows to go. @default 'normal' */
  priority?: 'high' | 'normal' | 'low';
  /** Epoch ms before which the task is not sent. */
  notBefore?: number;
  /** Epoch ms after which an undelivered task goes to dead as 'expired'. */
  expiresAt?: number;
  /** Coalescing key: a newer task with the same key replaces an older one not yet in flight ('superseded'). */
  key?: string;
  /** Kept from a `Request`; passed to fetch. */
  mode?: TaskMode;
  /** Kept from a `Request`; passed to fetch. */
  credentials?: TaskCredentials;
}

/** A body as stored: JSON for objects, text for strings, base64 for bytes, so each comes back as it went in. */
export type StoredBody = { readonly json: unknown } | { readonly text: string } | { readonly base64: string };

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

function optionalTime(task: Record<string, unknown>, field: string): number | undefined {
  const value = task[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) bad(field, 'epoch milliseconds (a finite number)', value);
  return value;
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
  // Not echoed: the password is the point.
  if (hasCredentials(parsed)) refuse('url', 'a URL without credentials (user:password@): send them in `OutboxOptions.headers`');
  return parsed.href;
}

export function encodeBody(body: unknown): StoredBody | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return { text: body };
  if (body instanceof Uint8Array) return { base64: toBase64(body) };
  if (body instanceof ArrayBuffer) return { base64: toBase64(new Uint8Array(body)) };
  if (typeof body !== 'object') bad('body', 'a string, a Uint8Array or a JSON object', body);
  let json: string | undefined;
  try {
    json = JSON.stringify(body);
  } catch (error) {
    throw new SluiceError('ERR_INVALID_TASK', 'Expected task `body` to survive JSON; it does not.', { cause: error });
  }
  if (json === undefined) bad('body', 'a JSON object', body);
  return { json: JSON.parse(json) as unknown };
}

/** Validates an `HttpTask` and returns its stored form. Bad input: 'ERR_INVALID_TASK' naming the field. */
export function normaliseTask(input: HttpTask, baseUrl: string | undefined, now: number): StoredTask {
  if (typeof input !== 'object' || input === null) bad('', 'an HttpTask object or a Request', input);
  const task = input as unknown as Record<string, unknown>;
  const url = resolveUrl(task.url, baseUrl);
  const method = (optionalString(task, 'method') ?? 'POST').toUpperCase();
  const methodError = methodProblem(method);
  if (methodError) bad('method', methodError, task.method);
  const headers: Record<string, string> = {};
  if (task.headers !== undefined) {
    const problem = headersProblem(task.headers);
    if (problem) refuse(`headers${problem.field}`, problem.expected);
    for (const [name, value] of Object.entries(task.headers as Record<string, string>)) headers[name.toLowerCase()] = value;
  }
  const body = encodeBody(task.body);
  if (body && 'json' in body && !headers['content-type']) headers['content-type'] = 'application/json';
  if (body && (method === 'GET' || method === 'HEAD')) bad('body', `absent for a ${method} request`, task.body);
  const priority = task.priority ?? 'normal';
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
    const value = optionalTime(task, field);
    if (value !== undefined) out[field] = value;
  }
  if (task.mode !== undefined) {
    if (!MODES.includes(task.mode as string)) bad('mode', "'cors', 'navigate', 'no-cors' or 'same-origin'", task.mode);
    out.mode = task.mode;
  }
  if (task.credentials !== undefined) {
    if (!CREDENTIALS.includes(task.credentials as string)) bad('credentials', "'include', 'omit' or 'same-origin'", task.credentials);
    out.credentials = task.credentials;
  }
  return out as unknown as StoredTask;
}

/** Reads a `Request` (body, method, headers, mode, credentials) into an `HttpTask`, faithfully. */
export async function taskFromRequest(request: Request): Promise<HttpTask> {
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value));
  const task: HttpTask = { url: request.url, method: request.method, headers, mode: request.mode, credentials: request.credentials };
  if (request.body !== null) {
    const bytes = new Uint8Array(await request.clone().arrayBuffer());
    task.body = bytes;
  }
  const id = request.headers.get('idempotency-key');
  if (id) task.id = id;
  return task;
}

/** The stored task as users see it in events and dead letters. */
export function publicTask(task: StoredTask): HttpTask & { id: string } {
  const out: HttpTask & { id: string } = { id: task.id, url: task.url, method: task.method, headers: { ...task.headers } };
  if (task.body) out.body = decodeBody(task.body);
  if (task.group !== undefined) out.group = task.group;
  out.priority = task.priority ?? 'normal';
  if (task.notBefore !== undefined) out.notBefore = task.notBefore;
  if (task.expiresAt !== undefined) out.expiresAt = task.expiresAt;
  if (task.key !== undefined) out.key = task.key;
  if (task.mode !== undefined) out.mode = task.mode;
  if (task.credentials !== undefined) out.credentials = task.credentials;
  return out;
}

export function decodeBody(body: StoredBody): string | Uint8Array | object {
  if ('text' in body) return body.text;
  if ('base64' in body) return fromBase64(body.base64);
  return body.json as object;
}

/** Bytes the task takes in storage, near enough for budgets. */
export function taskBytes(task: StoredTask): number {
  return JSON.stringify(task).length;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function isRequest(value: unknown): value is Request {
  return typeof Request === 'function' && value instanceof Request;
}
