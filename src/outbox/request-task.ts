import { messageOf, SluiceError } from '../core/errors.js';
import { INLINE_MAX } from './body.js';
import { setHeader } from './http-checks.js';
import type { KeyHeader } from './key-header.js';
import type { HttpTask } from './task.js';

/** How each read of a request's body is awaited: `Outbox.fetch` bounds them by its caller's signal and its time. */
export type Reading = <T>(read: Promise<T>) => Promise<T>;

const AWAITED: Reading = (read) => read;

const LEFT_TO_FETCH = new Set(['connection', 'content-length']);

/**
 * Reads a `Request` (body, method, headers, mode, credentials) into an `HttpTask`, faithfully; its `key` header (see
 * `OutboxOptions.idempotencyHeader`), if it has one, becomes the task's id. One whose body cannot be read (used
 * already, or its stream failed) is refused as 'ERR_INVALID_TASK', its error as the cause. Each read of a streamed
 * body goes through `reading`, those of the stream a large body is left as included: one it rejects cancels the body.
 */
export async function taskFromRequest(request: Request, key: KeyHeader, reading = AWAITED): Promise<HttpTask> {
  try {
    return await readRequest(request, key, reading);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError('ERR_INVALID_TASK', `The request's body could not be read: ${messageOf(error)}`, { cause: error });
  }
}

async function readRequest(request: Request, key: KeyHeader, reading: Reading): Promise<HttpTask> {
  const headers: Record<string, string> = {};
  // Joined as fetch sends them: Headers gives each set-cookie apart. The two the transport sets itself that Node's
  // fetch lets a Request carry and sends (`Connection: close`, a `Content-Length` its body matches) are left to it: a
  // task may not name them, and such a request sent live was refused only once the network failed, when it had to be stored.
  request.headers.forEach((value, name) => LEFT_TO_FETCH.has(name) || setHeader(headers, name, Object.hasOwn(headers, name) ? `${headers[name]!}, ${value}` : value));
  const task: HttpTask = { url: request.url, method: request.method, headers, mode: request.mode, credentials: request.credentials };
  const copy = request.clone();
  if (copy.body) task.body = await prefix(copy.body, INLINE_MAX, reading);
  else if (copy.body === undefined) {
    // No `Request.body` (Firefox before 142): a Blob, which a large body need not be read into memory for.
    const blob = await copy.blob();
    if (blob.size > 0) task.body = blob.size <= INLINE_MAX ? new Uint8Array(await blob.arrayBuffer()) : blob;
  }
  // The key becomes the id, which every request carries in that header. Without one (`idempotencyHeader: false`), an
  // id is made, and an 'Idempotency-Key' the request has is a header like any other.
  if (key === undefined) return task;
  const id = request.headers.get(key);
  delete headers[key];
  if (id) task.id = id;
  return task;
}

/**
 * A stream's bytes when they fit `limit` (read whole), else a stream that gives them all, what was read first
 * included: a request's body is not read into memory to find out that it is large.
 */
async function prefix(stream: ReadableStream<Uint8Array>, limit: number, reading: Reading): Promise<Uint8Array | ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  const read = () =>
    reading(reader.read()).catch((error: unknown) => {
      reader.cancel(error).catch(() => undefined);
      throw error;
    });
  const head: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await read();
    if (done) {
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const chunk of head) {
        bytes.set(chunk, at);
        at += chunk.length;
      }
      return bytes;
    }
    head.push(value);
    size += value.length;
    if (size > limit) break;
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = head.shift();
      if (next) return controller.enqueue(next);
      const { done, value } = await read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
