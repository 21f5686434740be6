import { describe, messageOf, SluiceError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { fromBase64, toBase64 } from './base64.js';
import { isBuffer } from './is-buffer.js';
import { tooDeepToInline } from './json-depth.js';
import { utf8Length } from './utf8-length.js';

/** Binary or text bodies up to this size are stored inside the task's item; larger ones beside it, in chunks. */
export const INLINE_MAX = 64 * 1024;

/** Where a body stored beside its task is: its blob's key, its size in bytes and their CRC-32. */
export interface BlobRef {
  readonly key: string;
  readonly size: number;
  /** CRC-32 of the bytes as stored, checked as they are read back; absent in bodies stored by earlier versions. */
  readonly crc?: number;
}

/**
 * A body as stored: JSON for objects, text for strings, base64 for small bytes, so each comes back as it went in;
 * large bodies (and every Blob, FormData or stream) beside the task, in the store's blobs.
 */
export type StoredBody = { readonly json: unknown } | { readonly text: string } | { readonly base64: string } | { readonly blob: BlobRef };

/** A body to store beside its task, read in pieces (never whole in memory). */
export interface BodySource {
  /** Its bytes in order, in pieces of any size. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Its own content type, if it has one (a Blob's, a multipart body's with its boundary). */
  readonly type: string | undefined;
  /** True when that type must win over the task's content-type header: a multipart boundary must match the bytes. */
  readonly typeWins: boolean;
  /** Lets go of what it holds of its source (a stream's lock) when it is not to be stored after all. */
  release?(): void;
}

/** The stored body each `BodyRef` stands for: kept in this module, as an app could name any stored body by its key. */
const blobs = new WeakMap<BodyRef, BlobRef>();

/**
 * A body kept beside its task in the store, as events, dead letters and `onBeforeSend` show it: its size and content
 * type, not its bytes (a photo is not read into memory to say that it was sent). Returned unchanged from
 * `onBeforeSend`, it keeps the stored body.
 */
export class BodyRef {
  readonly size: number;
  readonly type: string | undefined;

  // Private, as the body it stands for is: only this module makes them (see `refOf`).
  private constructor(blob: BlobRef, type: string | undefined) {
    blobs.set(this, blob);
    this.size = blob.size;
    this.type = type;
  }

  toJSON(): { size: number; type?: string } {
    return this.type === undefined ? { size: this.size } : { size: this.size, type: this.type };
  }
}

const refOf = (blob: BlobRef, type: string | undefined): BodyRef => new (BodyRef as unknown as new (blob: BlobRef, type: string | undefined) => BodyRef)(blob, type);

/** The stored body `value` stands for, when it is a `BodyRef`. */
const blobOf = (value: unknown): BlobRef | undefined => (value instanceof BodyRef ? blobs.get(value) : undefined);

/**
 * What `body` becomes: a stored body (inline, or a `BodyRef` handed back), a source to store beside the task, or
 * nothing. Objects that are not bytes, Blobs, forms or streams are JSON. Bad bodies: 'ERR_INVALID_TASK'. `stored`:
 * the body of a task being stored (false: one `onBeforeSend` gives for a send).
 */
export function encodeBody(body: unknown, stored = true): StoredBody | BodySource | undefined {
  if (body === undefined || body === null) return undefined;
  // A string's content type, as fetch gives it, unless the task names another.
  if (typeof body === 'string') return body.length <= INLINE_MAX ? { text: body } : bytesSource(new TextEncoder().encode(body), 'text/plain;charset=UTF-8');
  if (ArrayBuffer.isView(body) || isBuffer(body)) {
    let bytes: Uint8Array;
    try {
      bytes = ArrayBuffer.isView(body) ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : new Uint8Array(body as ArrayBuffer);
    } catch (error) {
      // A buffer transferred away (postMessage, structuredClone with transfer) has no bytes left to view.
      throw new SluiceError('ERR_INVALID_TASK', 'Expected task `body` to be bytes that can be read; its ArrayBuffer was detached (transferred).', { cause: error });
    }
    // Copied, as fetch copies them: the caller's buffer is read only now, whatever it holds later.
    return bytes.length <= INLINE_MAX ? { base64: toBase64(bytes) } : bytesSource(bytes.slice(), undefined);
  }
  if (typeof body !== 'object' && typeof body !== 'function') bad(body);
  const blob = blobOf(body);
  if (blob) return { blob };
  if (isA(body, 'Blob')) return blobSource(body as Blob);
  if (isA(body, 'FormData')) return formSource(body as FormData);
  if (isA(body, 'URLSearchParams')) {
    const text = String(body);
    return text.length <= INLINE_MAX ? { text } : bytesSource(new TextEncoder().encode(text), undefined);
  }
  if (isA(body, 'ReadableStream')) return streamSource(body as ReadableStream<unknown>);
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    // A Node Readable, or any async iterable of bytes or strings.
    refuseSpent(body);
    return { chunks: () => iterableChunks(body as AsyncIterable<unknown>), type: undefined, typeWins: false };
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(body, refuseCollections);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('ERR_INVALID_TASK', `Expected task \`body\` to be what JSON.stringify writes; it throws: ${messageOf(error)}`, { cause: error });
  }
  if (json === undefined) bad(body);
  // A large one goes beside the task as any large body does (up to `maxBodyBytes`), not inside its item.
  // Depth matters only for a body stored with its task (at enqueue), not one `onBeforeSend` gives for a send.
  const inline = json.length <= INLINE_MAX && (!stored || !tooDeepToInline(json));
  return inline ? { json: JSON.parse(json) as unknown } : bytesSource(new TextEncoder().encode(json), 'application/json');
}

/** The size in bytes of a body stored inside its task, as it is sent. */
export function inlineBytes(body: StoredBody): number {
  if ('text' in body) return utf8Length(body.text);
  if ('base64' in body) return Math.floor((body.base64.length * 3) / 4) - (body.base64.endsWith('==') ? 2 : body.base64.endsWith('=') ? 1 : 0);
  if ('json' in body) return utf8Length(JSON.stringify(body.json));
  return body.blob.size;
}


/** The content type a body implies when the task names none. */
export function impliedType(body: unknown): string | undefined {
  return isA(body, 'URLSearchParams') ? 'application/x-www-form-urlencoded;charset=UTF-8' : undefined;
}

export function isSource(body: StoredBody | BodySource | undefined): body is BodySource {
  return body !== undefined && 'chunks' in body;
}

/** An inline stored body as users gave it; a body stored beside its task as a `BodyRef`. */
export function decodeBody(body: StoredBody, type: string | undefined): string | Uint8Array | object {
  if ('text' in body) return body.text;
  if ('base64' in body) return fromBase64(body.base64);
  if ('blob' in body) return refOf(body.blob, type);
  if (!('json' in body)) throw newerBody();
  // JSON that is no object or array (a Date's string, a number, null) as its text: a string is a text body, and null none.
  return typeof body.json === 'object' && body.json !== null ? body.json : JSON.stringify(body.json);
}

/** Whether `body` is a stored body of a kind this version reads (a newer version may store others). */
export function isStoredBody(body: unknown): body is StoredBody {
  const b = body as Record<string, unknown> | null;
  return typeof b === 'object' && b !== null && ('json' in b || typeof b.text === 'string' || typeof b.base64 === 'string' || (typeof b.blob === 'object' && b.blob !== null));
}

/** A stored body of a kind this version does not know: sent as it reads here, it would go empty. */
export function newerBody(id?: string): SluiceError {
  return new SluiceError('ERR_INCOMPATIBLE_STORE', `A task${id ? ` (${id})` : ''} has a body of a kind this version of sluice does not know: a newer version stored it; upgrade sluice.`);
}

function bad(given: unknown): never {
  throw new SluiceError('ERR_INVALID_TASK', `Expected task \`body\` to be a string, bytes, a Blob, FormData, a stream or a JSON object, got ${describe(given)}.`);
}

/** A JSON.stringify replacer: what would be sent as `{}`, its contents lost without a word (a Map, a Set, an Error...). */
function refuseCollections(key: string, value: unknown): unknown {
  const collection = value instanceof Map ? 'a Map' : value instanceof Set ? 'a Set' : undefined;
  if (collection) throw new SluiceError('ERR_INVALID_TASK', `Expected task \`body\` to be JSON-able: ${collection}${key ? ` at "${key}"` : ''} would be sent as {}; convert it (Object.fromEntries(map), [...set]).`);
  // What JSON writes as {} (or as numbered bytes) whatever it holds: an error's message, a file's bytes, a form's inputs.
  const lossy = value instanceof Error || value instanceof RegExp || value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet || platformObject(value);
  const bytes = ArrayBuffer.isView(value) || isBuffer(value) || isA(value, 'Blob');
  if (!lossy && !bytes) return value;
  const what = Object.prototype.toString.call(value).slice(8, -1);
  const form = what === 'HTMLFormElement' ? ': send new FormData(form)' : '';
  throw new SluiceError('ERR_INVALID_TASK', `Expected task \`body\` to be JSON-able: ${what}${key ? ` at "${key}"` : ''} would be sent as ${bytes ? 'an object of numbered bytes, or {}: encode it (base64, or send it as the body itself)' : `{} or its own fields only${form || ' (give it a toJSON, or send a plain object)'}`}.`);
}

/**
 * Whether JSON would write `value` as its own fields only, losing what a platform's object holds (a <form>'s inputs, an
 * Event's detail, an iterator's items): its class the platform's (native, or a global of its name, as Node makes some
 * in JS; none: a generator), told by its tag, across realms too. Not what JSON writes whole, an app's class, nor a tag
 * given by the object.
 */
function platformObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || WRITTEN_WHOLE.has(Object.prototype.toString.call(value)) || Object.hasOwn(value, Symbol.toStringTag)) return false;
  const made = (value as { constructor?: unknown }).constructor;
  return typeof made !== 'function' || (globalThis as Record<string, unknown>)[made.name] === made || /\[native code\]\s*\}$/.test(Function.prototype.toString.call(made));
}
const WRITTEN_WHOLE = new Set(['Object', 'Array', 'Number', 'String', 'Boolean', 'Arguments', 'DOMStringMap', 'Storage'].map((tag) => `[object ${tag}]`));

/** A Node Readable read from already (its bytes went elsewhere), ended or destroyed: what is left is not the body. */
function refuseSpent(body: object): void {
  const r = body as { readableDidRead?: unknown; readableEnded?: unknown; destroyed?: unknown; readableFlowing?: unknown };
  if (r.readableDidRead === true || r.readableEnded === true || r.destroyed === true || r.readableFlowing === true) {
    throw new SluiceError('ERR_INVALID_TASK', 'Expected task `body` to be a stream not yet read; this Node stream was read from, ended or destroyed already, or flows elsewhere: what is left of it is not the body.');
  }
}

/** `value instanceof globalThis[name]`, where the platform has that class (read when called). */
function isA(value: unknown, name: 'Blob' | 'FormData' | 'URLSearchParams' | 'ReadableStream'): boolean {
  const type = (globalThis as Record<string, unknown>)[name];
  return typeof type === 'function' && value instanceof (type as new () => object);
}

function bytesSource(bytes: Uint8Array, type: string | undefined): BodySource {
  return {
    type,
    typeWins: false,
    async *chunks() {
      yield bytes;
    },
  };
}

function blobSource(blob: Blob): BodySource {
  return { type: blob.type || undefined, typeWins: false, chunks: () => sliceChunks(blob) };
}

/**
 * A form as multipart/form-data (the HTML standard's encoding, as fetch sends a FormData), written here rather than
 * read from `new Response(form)`: WebKit cannot read that when the form holds a File ("Unable to read form data
 * blob"), and this way a file goes a slice at a time. The boundary is chosen once, so the stored bytes and the
 * content type stored with them agree.
 */
function formSource(form: FormData): BodySource {
  const boundary = `----sluice${randomId()}${randomId()}`;
  const encoder = new TextEncoder();
  // Names and file names escaped as the standard says: newlines and quotes as percent-escapes.
  const quote = (text: string) => `"${text.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22')}"`;
  // The standard's line breaks in names and text values: every lone CR or LF a CRLF, as fetch sends them.
  const crlf = (text: string) => text.replace(/\r\n|\r|\n/g, '\r\n');
  // Its entries as they are now (files are immutable): a form the app changes after enqueue is not what it enqueued.
  const entries = [...(form as unknown as Iterable<[string, string | File]>)];
  return {
    type: `multipart/form-data; boundary=${boundary}`,
    typeWins: true,
    async *chunks() {
      for (const [name, value] of entries) {
        const head = `--${boundary}\r\nContent-Disposition: form-data; name=${quote(crlf(name))}`;
        if (typeof value === 'string') {
          yield encoder.encode(`${head}\r\n\r\n${crlf(value)}\r\n`);
          continue;
        }
        yield encoder.encode(`${head}; filename=${quote(value.name ?? 'blob')}\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`);
        yield* sliceChunks(value);
        yield encoder.encode('\r\n');
      }
      yield encoder.encode(`--${boundary}--\r\n`);
    },
  };
}

/** A Blob's bytes a slice at a time: never the whole of it in memory. */
async function* sliceChunks(blob: Blob): AsyncIterable<Uint8Array> {
  const PIECE = 256 * 1024;
  for (let at = 0; at < blob.size; at += PIECE) yield new Uint8Array(await blob.slice(at, at + PIECE).arrayBuffer());
}

/**
 * A web stream, refused as fetch refuses it when the app has read from it already (what is left is not the body) or
 * holds its lock, and locked to the outbox at once, so that nothing else reads it before it is stored.
 */
function streamSource(stream: ReadableStream<unknown>): BodySource {
  let reader: ReadableStreamDefaultReader<unknown>;
  try {
    // Response is the one portable check for a stream read from already: it throws as fetch would.
    if (typeof Response === 'function') void new Response(stream as ReadableStream<Uint8Array>);
    reader = stream.getReader();
  } catch (error) {
    throw new SluiceError('ERR_INVALID_TASK', 'Expected task `body` to be a stream not yet read; this one was read from already, or is locked to a reader: what is left of it is not the body.', { cause: error });
  }
  return { chunks: () => streamChunks(reader), type: undefined, typeWins: false, release: () => reader.releaseLock() };
}

async function* streamChunks(reader: ReadableStreamDefaultReader<unknown>): AsyncIterable<Uint8Array> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield toBytes(value);
    }
  } finally {
    reader.releaseLock();
  }
}

async function* iterableChunks(iterable: AsyncIterable<unknown>): AsyncIterable<Uint8Array> {
  for await (const value of iterable) yield toBytes(value);
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return new TextEncoder().encode(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (isBuffer(value)) return new Uint8Array(value as ArrayBuffer);
  throw new SluiceError('ERR_INVALID_TASK', `Expected task \`body\`'s stream to give bytes or strings, got ${describe(value)}.`);
}
