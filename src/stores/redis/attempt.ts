import { SluiceError } from '../../core/errors.js';
import { storageError as translate } from '../../core/storage-errors.js';

/**
 * Redis error replies that mean "not now" rather than "never": a restarted server, a cluster failing over, another
 * app's script running past the server's busy threshold (BUSY: refused without running, lifted when it ends). MOVED and
 * ASK reach here from a pipeline (a strict commit's script and its WAIT), which the Cluster client does not redirect:
 * the node refused the script without running it, and the next try goes where the refreshed slot map says. UNBLOCKED
 * is a strict commit's WAIT cut short by a failover (the primary became a replica): the script may have run, and the
 * next try, under the same token, is recognised as a replay where it did (see COMMIT).
 */
const PASSING = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|MOVED|ASK|UNBLOCKED)\b/;

/** What a call needs of its store's connection. */
export interface Link {
  /** Its state: 'ready', 'connecting', 'reconnecting', 'end'… */
  readonly client: { readonly status: string; readonly isCluster?: boolean };
  /** The last error the connection told while it was not ready (why calls get no answer), if the store heard it. */
  connectionError(): unknown;
  /** The store was closed: no call goes out for a handle it no longer keeps alive (no heartbeat, no connection). */
  storeClosed(): boolean;
}

/** What a client's `status` is once it will never reconnect (closed by its owner): retrying cannot help then. */
const ENDED = 'end';

/**
 * The least a call is given to answer, even with a `retryMs` below it (0: no retry): a busy server is not a hung one.
 */
export const MIN_ANSWER_MS = 1000;

/**
 * How long a close waits for what is only a courtesy (deleting its heartbeat, QUIT): a server that does not answer
 * then lets the heartbeat expire by itself, and the connection is cut. A close waits `retryMs` for what matters, the
 * release of its leases, and not again for these.
 */
export const GOODBYE_MS = 1000;

/** How long a call outside `attempt` (a close's cleanup, a settings read) waits for an answer. */
export function answerMs(retryMs: number): number {
  return Math.max(retryMs, MIN_ANSWER_MS);
}

/**
 * Runs `call` until it succeeds, retrying what a lost connection or a failover makes fail (with backoff, for at
 * most `retryMs`), and turns the final failure into a `SluiceError`. Only idempotent calls come here: reads, and
 * commits (a commit's script recognises its own replay, see scripts.ts).
 *
 * Each try is given the time left before the deadline (at least MIN_ANSWER_MS), plus `graceMs` for a call that waits
 * on the server by design (WAIT for replicas): a server that stops answering (stopped, paused, stuck) while its
 * connection stays open fails no command, and without this bound the call would wait for ever. The command itself
 * stays sent: a commit given up on this way may still be applied when the server wakes, so its outcome is unknown,
 * as after any failed commit (the caller reads the store again before planning; a resend is recognised as a replay).
 */
export async function attempt<T>(what: string, retryMs: number, link: Link, call: () => Promise<T>, graceMs = 0): Promise<T> {
  const { client } = link;
  // On the monotonic clock: a step of the wall clock must neither end the retries at once nor stretch them by its length.
  const deadline = performance.now() + retryMs;
  for (let tries = 0; ; tries++) {
    // A handle used after its store's close: its heartbeat stopped, so other processes may take its leases back.
    if (link.storeClosed()) throw new SluiceError('ERR_CLOSED', `Cannot ${what}: its RedisStore was closed. Close the queues before their store.`);
    try {
      return await within(call(), Math.max(deadline - performance.now(), MIN_ANSWER_MS) + graceMs, () => noAnswer(what, retryMs, link));
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      if (!passing(error) || client.status === ENDED) throw storageError(what, error);
      // Not connected: why (its last connection error), rather than the client's "max retries per request".
      if (performance.now() >= deadline) throw storageError(what, (client.status !== 'ready' && link.connectionError()) || error);
      await sleep(Math.min(50 * 2 ** tries, 1000, Math.max(0, deadline - performance.now())));
    }
  }
}

/**
 * `promise`, or a rejection with `late()` once `ms` passed without it settling. What `promise` does after is ignored
 * (never an unhandled rejection); the timer never keeps a process alive.
 */
export function within<T>(promise: Promise<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function noAnswer(what: string, retryMs: number, { client, connectionError }: Link): SluiceError {
  const unsure = 'A commit given up on this way may still be applied when the server answers again: its outcome is unknown, and the queue reads the store again before its next operation.';
  if (client.status === 'ready') {
    return new SluiceError('ERR_STORAGE', `Redis did not answer within retryMs (${answerMs(retryMs)} ms) to ${what}: the server is stopped, paused or overloaded while its connection stays open${client.isCluster ? ", or the queue's hash slot is being moved to another node (a reshard, which the client waits out: TRYAGAIN, ASK)" : ''}. ${unsure}`);
  }
  const cause = withoutPassword(connectionError());
  const why = cause instanceof Error ? ` (${cause.message})` : '';
  return new SluiceError(
    'ERR_STORAGE',
    `Redis could not be reached to ${what} within retryMs (${answerMs(retryMs)} ms): the connection is ${client.status}${why}. Is the server running at the store's address? ${unsure}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * `error`, kept as a cause, without the password: ioredis's reply to a login that failed (WRONGPASS) holds the
 * command it answers, AUTH or HELLO with its arguments, which a logger that serialises causes would print.
 */
function withoutPassword(error: unknown): unknown {
  try {
    const command = (error as { command?: { name?: unknown } } | null | undefined)?.command;
    if (typeof command?.name === 'string' && /^(auth|hello)$/i.test(command.name)) (error as { command: object }).command = { name: command.name };
  } catch {
    // A frozen error: kept as it is.
  }
  return error;
}

/** True for failures worth another try: anything but an error reply from the server, or a passing reply. */
function passing(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name !== 'ReplyError' || passingReply(error);
}

/** A reply that refuses the command for now (BUSY with another's script, LOADING, a failover): it did not run. */
export function passingReply(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && PASSING.test(error.message);
}

/** A command refused to the user (ACL) or unknown to the server (renamed), the script's or the client's own. */
export const REFUSED = /\bNOPERM\b|can't run this command|Unknown Redis command called from script|^ERR unknown command/;

/**
 * The error a store call rejects with (see the core's `storageError`): out of memory is a quota. A refused command says
 * so in words: a script's reply names only a line of it.
 */
export function storageError(what: string, error: unknown): SluiceError {
  const translated = translate(withoutPassword(error), `Redis failed to ${what}:`);
  if (!(error instanceof Error) || !REFUSED.test(error.message)) return translated;
  translated.message +=
    " The Redis user may not run a command the store needs, or the server renamed it: grant the user the commands README's RedisStore 'Access' lists (EVAL, EVALSHA, and the string, hash, set, key and pub/sub commands its scripts run).";
  return translated;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
