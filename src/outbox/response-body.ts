import { SluiceError } from '../core/errors.js';

/** The most of a response's body an attempt reads (see `readBody`). */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** A response's body as an attempt read it: all of it, or its first `MAX_RESPONSE_BYTES` when it went on (`cut`). */
export interface ReadBody {
  readonly bytes: ArrayBuffer;
  readonly cut: boolean;
}

/**
 * Reads the body of a response judged sent to its end, so that the request is known to be over (and the 'sent'
 * listeners get it), but never more than `MAX_RESPONSE_BYTES`: an endless body, or a small one that inflates to
 * gigabytes (gzip), would otherwise be held in memory whole, again at every retry. One that goes on past that is
 * cancelled, and its task sent all the same: its status said so. One like a Response without a stream is read whole.
 */
export async function readBody(response: Response): Promise<ReadBody> {
  // Sized within the limit, and not inflated on the way: read whole at once (fetch holds no more than that).
  const { headers } = response;
  const fits = Number(headers.get('content-length') ?? Infinity) <= MAX_RESPONSE_BYTES && !headers.has('content-encoding');
  const reader = fits ? undefined : (response.body as ReadableStream<Uint8Array> | null | undefined)?.getReader?.();
  if (!reader) return { bytes: await response.arrayBuffer(), cut: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > MAX_RESPONSE_BYTES) {
      chunks.push(value.subarray(0, MAX_RESPONSE_BYTES - size));
      size = MAX_RESPONSE_BYTES;
      await reader.cancel().catch(() => undefined);
      return { bytes: joined(chunks, size), cut: true };
    }
    chunks.push(value);
    size += value.length;
  }
  return { bytes: joined(chunks, size), cut: false };
}

/**
 * The body a 'sent' listener's copy of the response gets: what was read, then, when it was cut, an error saying so
 * (a body that ended there would pass for all of it).
 */
export function bodyOf(read: ReadBody): ArrayBuffer | ReadableStream<Uint8Array> {
  if (!read.cut) return read.bytes;
  let given = false;
  // The error on the read after the bytes: one raised with them queued would drop them.
  return new ReadableStream({
    pull(controller) {
      if (given) return controller.error(new SluiceError('ERR_ITEM_TOO_LARGE', `The response body went on past ${MAX_RESPONSE_BYTES} bytes; the outbox read no more of it.`));
      given = true;
      controller.enqueue(new Uint8Array(read.bytes));
    },
  });
}

function joined(chunks: readonly Uint8Array[], size: number): ArrayBuffer {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out.buffer;
}

/**
 * A Response with `response`'s status and headers over `body`. Node's fetch decodes a reason phrase as UTF-8, so a
 * server's non-ASCII one (a Latin-1 'Ærgerlig', a UTF-8 'Неверно', a DEL) comes as text the Response constructor
 * refuses with a TypeError: the copy then goes without it, rather than failing what the server answered.
 */
export function copyOf(body: BodyInit | null, response: Response): Response {
  const copy = made(body, response);
  // Headers read by name alone (an answer like a Response whose headers cannot be listed, see `asResponse`) go along.
  if (Object.hasOwn(response, 'headers')) Object.defineProperty(copy, 'headers', { value: response.headers });
  return copy;
}

function made(body: BodyInit | null, response: Response): Response {
  const init: ResponseInit = { status: response.status, headers: response.headers };
  try {
    return new Response(body, { ...init, statusText: response.statusText });
  } catch (error) {
    if (!response.statusText) throw error;
    return new Response(body, init);
  }
}
