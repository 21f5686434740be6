// Compiled by test/package/package.test.ts in projects that installed the packed tarball, once per TypeScript set-up
// users have (Node without the DOM lib, DOM, webworker; node16, nodenext and bundler resolution). It uses every
// entry and pins the types a user meets, so a public type that leans on one lib's names fails here.
import {
  MemoryStore,
  Outbox,
  Queue,
  SluiceError,
  type Clock,
  type CorruptDetail,
  type DeadDetail,
  type DeadLetters,
  type FlushResult,
  type HttpTask,
  type OpenHints,
  type PushDetail,
  type QueueBlobs,
  type QueueEntry,
  type QueueStorage,
  type RecoverDetail,
  type RetryDetail,
  type SentDetail,
  type Store,
} from 'sluice';
import { FileStore } from 'sluice/fs';
import { IndexedDbStore } from 'sluice/indexeddb';
import { backgroundSync } from 'sluice/sw';

type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/** Compiles only when `A` and `B` are the same type (`any` matches nothing but `any`). */
function same<A, B>(proof: Equals<A, B>): void {
  void proof;
}

export async function queue(signal: AbortSignal): Promise<void> {
  await using q = await Queue.open<{ n: number }>({ name: 'jobs', store: new MemoryStore() });
  q.addEventListener('push', (event) => same<typeof event.detail, PushDetail>(true));
  q.addEventListener('recover', (event) => same<typeof event.detail, RecoverDetail>(true));
  q.addEventListener('corrupt', (event) => same<typeof event.detail, CorruptDetail>(true));
  q.addEventListener('change', (event) => same<typeof event, Event>(true));
  q.addEventListener('push', { handleEvent: (event) => same<typeof event.detail, PushDetail>(true) });
  // @ts-expect-error a push event's detail has no such field
  q.addEventListener('push', (event) => event.detail.missing);

  const onPush = (event: CustomEvent<PushDetail>): void => void event.detail.count;
  q.addEventListener('push', onPush, { once: true, signal });
  q.removeEventListener('push', onPush);
  q.removeEventListener('push', onPush, { capture: false });

  await q.push({ n: 1 });
  const lease = await q.take(10);
  for (const entry of lease?.entries ?? []) same<typeof entry.value, { n: number }>(true);
  same<Awaited<ReturnType<typeof q.list>>, QueueEntry<{ n: number }>[]>(true);
  for await (const next of q.iterate({ signal })) await next.ack();
}

export async function outbox(request: Request): Promise<void> {
  const box = await Outbox.open({ name: 'api', store: new FileStore({ dir: '.sluice' }) });
  box.addEventListener('enqueue', (event) => same<typeof event.detail.ids, readonly string[]>(true));
  box.addEventListener('sent', (event) => same<typeof event.detail, SentDetail>(true));
  box.addEventListener('retry', (event) => same<typeof event.detail, RetryDetail>(true));
  box.addEventListener('dead', (event) => same<typeof event.detail, DeadDetail>(true));
  box.addEventListener('error', (event) => same<typeof event.detail.error, unknown>(true));
  box.addEventListener('drained', (event) => same<typeof event.detail, null>(true));
  box.addEventListener('online', (event) => same<typeof event.detail, { readonly online: true }>(true));
  box.addEventListener('offline', (event) => same<typeof event.detail, { readonly online: false }>(true));
  box.addEventListener('sent', (event) => same<typeof event.detail.task.id, string>(true));

  const task: HttpTask = { url: 'https://example.test/notes', body: { text: 'hi' }, mode: 'cors', credentials: 'include' };
  same<Awaited<ReturnType<typeof box.enqueue>>, string>(true);
  await box.enqueueMany([task, request]);
  same<Awaited<ReturnType<typeof box.flush>>, FlushResult>(true);
  const stop = backgroundSync(box, { tag: 'api' });
  stop();
  try {
    await box.close();
  } catch (error) {
    // @ts-expect-error not a code sluice has
    if (error instanceof SluiceError && error.code === 'ERR_NOPE') return;
    if (error instanceof SluiceError && error.code === 'ERR_LOCKED') throw error;
  }
}

export const stores = [new MemoryStore(), new FileStore(), new IndexedDbStore({ dbName: 'app' })];

/** Options read from the environment may be undefined: each is then its default, as if left out. */
export async function optionsFromTheEnvironment(env: Record<string, string | undefined>, signal?: AbortSignal): Promise<void> {
  const leaseMs = env['LEASE_MS'] === undefined ? undefined : Number(env['LEASE_MS']);
  const q = await Queue.open<number>({ name: 'jobs', store: new FileStore({ dir: env['QUEUE_DIR'], mode: undefined }), leaseMs, partitions: undefined });
  await q.push(1, { key: env['KEY'] });
  const lease = await q.take(1, { leaseMs, signal });
  await lease?.release(undefined, { delayMs: undefined });
  await q.close();
  const outbox = await Outbox.open({ name: 'api', baseUrl: env['API_URL'], retry: { maxAttempts: undefined }, limits: undefined, batch: undefined });
  await outbox.enqueue({ url: '/notes', id: env['ID'], group: env['GROUP'], body: undefined });
  await outbox.close();
}

/**
 * What a library that emits declarations writes for `outbox.dead` or `queue.blobs` it lets TypeScript infer: their
 * members, restated. Its users' code gives them back where sluice's own types are asked for (a class's private
 * fields, restated as `any`, would not fit).
 */
export async function restated(outbox: Outbox, queue: Queue<number>): Promise<void> {
  const dead: { list: DeadLetters['list']; size: DeadLetters['size']; retry: DeadLetters['retry']; purge: DeadLetters['purge'] } = outbox.dead;
  const blobs: { write: QueueBlobs['write']; read: QueueBlobs['read']; delete: QueueBlobs['delete']; keys: QueueBlobs['keys'] } | undefined = queue.blobs;
  const back: [DeadLetters, QueueBlobs | undefined] = [dead, blobs];
  await back[0].list({ after: '0', limit: 10 });
}

/** A store that wraps another (for logging, say), its optional members copied whether or not the other has them. */
export class Wrapped implements Store {
  readonly scope: string | undefined;
  readonly clock: Clock | undefined;
  readonly #inner: Store;

  constructor(inner: Store) {
    this.#inner = inner;
    this.scope = inner.scope;
    this.clock = inner.clock;
  }

  open(name: string, hints?: OpenHints): Promise<QueueStorage> {
    return this.#inner.open(name, hints);
  }
}
