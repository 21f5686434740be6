import { decodeBody } from './body.js';
import { setHeader } from './http-checks.js';
import type { KeyHeader } from './key-header.js';
import type { OpenedBody } from './body-store.js';
import type { StoredBody, StoredTask } from './task.js';

/** What `fetch` is called with for one send. */
export interface Send {
  readonly url: string;
  readonly init: RequestInit;
}

/** A body kept inside its task, as fetch takes it (one stored beside it comes opened, see `BodyStore.open`). */
function bodyOf(body: StoredBody | undefined): BodyInit | undefined {
  if (!body) return undefined;
  if ('json' in body) return JSON.stringify(body.json);
  return decodeBody(body, undefined) as BodyInit;
}

/**
 * `headers` (names lower-cased) with the per-send headers over them, a fresh token over a stored one, but never over
 * a content type the body says (a multipart boundary, a Blob's type, the task's own): only over none, or over the
 * `application/json` a JSON body implies (a JSON:API app's provider says `application/vnd.api+json`). Two per-send
 * headers of one name, whatever their case, are joined as fetch joins them.
 */
function withPerSend(headers: Record<string, string>, perSend: Readonly<Record<string, string>>): Record<string, string> {
  const type = headers['content-type'];
  let given: Set<string> | undefined;
  for (const name in perSend) {
    const lower = name.toLowerCase();
    setHeader(headers, lower, given?.has(lower) ? `${headers[lower]!}, ${perSend[name]!}` : perSend[name]!);
    (given ??= new Set()).add(lower);
  }
  if (type !== undefined && type !== 'application/json') headers['content-type'] = type;
  return headers;
}

/**
 * The request for one task: its stored headers, then the per-send headers (never stored), then the `key` header
 * ('idempotency-key' by default, see `OutboxOptions.idempotencyHeader`) set to the task id, last, so that neither can
 * change the key a server deduplicates on across retries (a task stored under another setting may hold a header of
 * that name). No `key`: no key header at all.
 */
export function buildRequest(task: StoredTask, perSend: Readonly<Record<string, string>>, signal: AbortSignal | undefined, key: KeyHeader, opened?: OpenedBody): Send {
  // A plain record (names lower-cased, as stored tasks' are): fetch checks it as it would a Headers object, for less.
  // Spread, a stored `__proto__` header stays an own property.
  const headers = withPerSend({ ...task.headers }, perSend);
  if (key !== undefined) setHeader(headers, key, task.id);
  // 'manual': a redirect is the outbox's to judge (see redirects.ts), never followed with the task's headers.
  const init: RequestInit = { method: task.method, headers, redirect: 'manual' };
  if (opened) {
    init.body = opened.body;
    // A stream goes with its length (not chunked: some servers refuse that for uploads) and fetch's duplex flag.
    if (!(opened.body instanceof Blob)) {
      headers['content-length'] = String(opened.length);
      (init as { duplex?: 'half' }).duplex = 'half';
    }
  } else {
    const body = bodyOf(task.body);
    if (body !== undefined) init.body = body;
  }
  if (signal) init.signal = signal;
  if (task.mode !== undefined && task.mode !== 'navigate') init.mode = task.mode;
  if (task.credentials !== undefined) init.credentials = task.credentials;
  return { url: task.url, init };
}

/** A JSON body for a batch: the tasks' bodies in order (objects as JSON, strings as strings). */
export function batchBody(tasks: readonly StoredTask[]): string {
  return `[${tasks.map(batchPart).join(',')}]`;
}

/** A task's body as an item of a batch's JSON array. */
export function batchPart(task: StoredTask): string {
  return !task.body ? 'null' : 'json' in task.body ? JSON.stringify(task.body.json) : JSON.stringify(decodeBody(task.body, undefined));
}

/**
 * Whether a task can travel inside a batch, a JSON array of bodies POSTed to one URL: a POST of JSON or plain text,
 * with no header of its own but its content type, nor a mode or credentials. Anything else would lose its meaning
 * there (bytes; a DELETE, or a PUT with its If-Match; an XML or form body), so it goes alone, to its own URL.
 */
export function batchable(task: StoredTask): boolean {
  const { body, headers } = task;
  if (task.method !== 'POST' || !body || task.mode !== undefined || task.credentials !== undefined) return false;
  const type = 'json' in body ? JSON_TYPE : 'text' in body ? TEXT_TYPE : undefined;
  if (!type) return false;
  for (const name in headers) if (name !== 'content-type' || !type.test(headers[name]!)) return false;
  return true;
}

/**
 * `edited` (what `onBeforeSend` returned, stored) with `stored`'s JSON body back where it came back unchanged: JSON
 * that is no object is shown as its text, which would come back a text body, and a batch carries none with a JSON type.
 */
export function keepingJson(stored: StoredTask, edited: StoredTask): StoredTask {
  const [was, is] = [stored.body, edited.body];
  return was && 'json' in was && is && 'text' in is && is.text === JSON.stringify(was.json) ? { ...edited, body: was } : edited;
}

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
const TEXT_TYPE = /^text\/plain\s*(;|$)/i;

/**
 * One request carrying many tasks' bodies as a JSON array, with the key (in the `key` header, if any) `batchKey` gives it: the same
 * batch retried carries the same key, and the header stays short however many tasks travel (a list of their ids
 * grew past what servers accept, 8 to 16 KiB of headers, near 450 tasks, and came back 431).
 */
export function buildBatchRequest(url: string, tasks: readonly StoredTask[], perSend: Readonly<Record<string, string>>, signal: AbortSignal | undefined, key: KeyHeader): Send {
  const headers = withPerSend({ 'content-type': 'application/json' }, perSend);
  if (key !== undefined) setHeader(headers, key, batchKey(tasks.map((t) => t.id)));
  const init: RequestInit = { method: 'POST', headers, body: batchBody(tasks), redirect: 'manual' };
  if (signal) init.signal = signal;
  return { url, init };
}

/**
 * `batch-<count>-<32 hex digits>`: a 128-bit hash of the task ids in order, so the same tasks in the same order give
 * the same key (across retries and restarts, in every tab and worker), and other tasks another. Not cryptographic:
 * the keys are the outbox's own, with nobody to forge a collision; 128 bits make an accidental one negligible. Kept
 * synchronous and free of `crypto.subtle`, which pages outside a secure context lack.
 */
export function batchKey(ids: readonly string[]): string {
  // Ids hold no ',' (see `normaliseTask`), so the joined text names one list of ids.
  const text = ids.join(',');
  let [a, b, c, d] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a];
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    a = b ^ Math.imul(a ^ k, 0x239b961b);
    b = c ^ Math.imul(b ^ k, 0xab0e9789);
    c = d ^ Math.imul(c ^ k, 0x38b34ae5);
    d = a ^ Math.imul(d ^ k, 0xa1e38b93);
  }
  a = Math.imul(c ^ (a >>> 18), 0x239b961b);
  b = Math.imul(d ^ (b >>> 22), 0xab0e9789);
  c = Math.imul(a ^ (c >>> 17), 0x38b34ae5);
  d = Math.imul(b ^ (d >>> 19), 0xa1e38b93);
  a ^= b ^ c ^ d;
  const hex = [a, b ^ a, c ^ a, d ^ a].map((h) => (h >>> 0).toString(16).padStart(8, '0')).join('');
  return `batch-${ids.length}-${hex}`;
}
