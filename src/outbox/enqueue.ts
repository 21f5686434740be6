import { describe, SluiceError } from '../core/errors.js';
import type { BodyStore } from './body-store.js';
import { taskFromRequest } from './request-task.js';
import type { KeyHeader } from './key-header.js';
import { blobKey, isRequest, prepareTask, type HttpTask, type StoredTask } from './task.js';

/** Refuses an array where `enqueue` takes one task, and options beside it (see `noOptions`). */
export function oneTask(task: unknown, extra: unknown): void {
  if (Array.isArray(task)) throw new SluiceError('ERR_INVALID_TASK', `Expected \`task\` to be one task, got an array of ${task.length}: enqueueMany takes several.`);
  noOptions('enqueue', extra);
}

/** Refuses one task where `enqueueMany` takes an array, and options beside them (see `noOptions`). */
export function manyTasks(tasks: unknown, extra: unknown): void {
  if (!Array.isArray(tasks)) throw new SluiceError('ERR_INVALID_TASK', `Expected \`tasks\` to be an array of tasks (enqueue takes one), got ${describe(tasks)}.`);
  noOptions('enqueueMany', extra);
}

/**
 * An object as second argument, as other queues take their options (`enqueue(task, { group })`), would be ignored: the
 * task would go in the default group, in another order than meant, without a word. A task carries its own group, key
 * and headers. Anything else passes: `tasks.map(outbox.enqueue, outbox)` gives an index.
 */
function noOptions(method: string, extra: unknown): void {
  if (typeof extra !== 'object' || extra === null) return;
  throw new SluiceError('ERR_INVALID_TASK', `${method}() takes no options, got ${describe(extra)} as a second argument: a task's group, key, headers and other fields go in the task itself.`);
}

/**
 * `tasks` (HttpTasks or Requests) checked, all of them before anything is stored, then made ready to push: a body
 * that goes beside its task is stored first, one at a time (memory holds one chunk), so that the task committed
 * after it always finds it. A failure deletes the bodies stored so far: nothing is left behind.
 */
export async function prepareAll(tasks: readonly (HttpTask | Request)[], o: { baseUrl: string | undefined; now: number; bodies: BodyStore; keyHeader: KeyHeader }): Promise<StoredTask[]> {
  // Bodies are taken at the call, as fetch takes them, before any await: an app that reuses its buffer, object or form
  // once enqueue has returned (or transfers the buffer to a worker) must not change, or empty, what was enqueued.
  const now: (Prepared | undefined)[] = [];
  let prepared: Prepared[] = [];
  const out: StoredTask[] = [];
  try {
    // Array.from: a hole in `tasks` is a task missing, refused as one.
    for (const t of Array.from(tasks)) now.push(isRequest(t) ? undefined : prepareTask(t, o.baseUrl, o.now, o.keyHeader, true));
    prepared = await Promise.all(now.map(async (p, i) => p ?? prepareTask(await o.bodies.whileOpen(taskFromRequest(tasks[i] as Request, o.keyHeader)), o.baseUrl, o.now, o.keyHeader, true)));
    for (const { task } of prepared) if (task.body) o.bodies.check(task.body);
    for (const { task, upload } of prepared) {
      // A stored body named again (a BodyRef) is copied: two tasks naming one would delete it under each other.
      const source = upload ?? (task.body && 'blob' in task.body ? o.bodies.copyOf(task.body.blob) : undefined);
      out.push(source ? { ...task, body: await o.bodies.store(task.id, source) } : task);
    }
  } catch (error) {
    // Streams locked to this enqueue are let go: the app may cancel them (a response body holds its connection). The
    // plain tasks' are in `prepared` once the Requests are read, and in `now` alone before.
    for (const p of prepared.length > 0 ? prepared : now) p?.upload?.release?.();
    await o.bodies.delete(bodiesOf(out)).catch(() => undefined);
    throw error;
  }
  return out;
}

type Prepared = ReturnType<typeof prepareTask>;

/** The keys of the bodies `tasks` store beside them. */
export function bodiesOf(tasks: readonly StoredTask[]): string[] {
  // Not flatMap, which costs several times more, on every response.
  return tasks.map(blobKey).filter((key) => key !== undefined);
}

/**
 * True when a failed push surely left nothing stored: refused before or by the store's commit as too large, not
 * serialisable or over quota, or made on a queue whose storage was deleted under it (ERR_NOT_FOUND: another tab
 * deleted the database), where nothing is left to name its bodies. After any other failure (a connection lost
 * mid-commit) the push may have landed, so the bodies stay, for the task to find, or for a later open's sweep when it
 * did not land.
 */
export function storedNothing(error: unknown): boolean {
  const code = (error as Partial<SluiceError> | null)?.code;
  return code === 'ERR_QUOTA_EXCEEDED' || code === 'ERR_ITEM_TOO_LARGE' || code === 'ERR_NOT_SERIALIZABLE' || code === 'ERR_INVALID_TASK' || code === 'ERR_NOT_FOUND';
}

/** A queue's refusal of a task too large to store, in an outbox's words (it has no `maxItemBytes` to raise). */
export function inOutboxWords(error: unknown): unknown {
  if ((error as Partial<SluiceError> | null)?.code !== 'ERR_ITEM_TOO_LARGE') return error;
  return new SluiceError(
    'ERR_ITEM_TOO_LARGE',
    "A task is too large to store: its URL, headers, group and key (with a body kept inside it) come to over 1 MiB. Put large data in the task's `body`, which is stored beside it.",
    { cause: error },
  );
}

/**
 * The error of an enqueue that may have stored its tasks all the same (a commit that ran after its call gave up, as a
 * Redis paused then does): it names their ids, generated ones too, so that they can be enqueued again under them.
 */
export function mayHaveStored(error: unknown, tasks: readonly StoredTask[]): unknown {
  // ERR_STORAGE, a commit whose outcome is unknown, leaves the doubt; any other code goes on as it is.
  if (!(error instanceof SluiceError) || error.code !== 'ERR_STORAGE') return error;
  const ids = tasks.map((task) => JSON.stringify(task.id));
  const named = ids.length > 10 ? `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more` : ids.join(', ');
  return new SluiceError('ERR_STORAGE', `${error.message} The tasks may have been stored all the same, and are then delivered: to be sure, enqueue them again under the same ids (${named}); the server sees one Idempotency-Key should both go.`, { cause: error });
}
