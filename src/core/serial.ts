import { realNow, realSetTimeout } from './real-timers.js';

/** A function that runs the functions given to it one at a time, in call order. */
export type Serial = <R>(fn: () => R | Promise<R>) => Promise<R>;

/** Taken at load, as `realNow` is (see real-timers.ts). */
const macrotask: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? globalThis.setImmediate.bind(globalThis)
    : typeof MessageChannel === 'function'
      ? messages()
      : (fn) => void realSetTimeout(fn, 0);

/**
 * A macrotask by message, in browsers and workers: a hidden tab runs timers at most once a second, and every operation
 * of a handle on IndexedDB would then wait for one; messages are not held back.
 */
function messages(): (fn: () => void) => void {
  let channel: MessageChannel | undefined;
  const due: (() => void)[] = [];
  return (fn) => {
    if (!channel) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => due.shift()?.();
      // Where ports keep a process alive (Node, without setImmediate in a test): a turn of the loop must not.
      (channel.port1 as { unref?: () => void }).unref?.();
    }
    due.push(fn);
    channel.port2.postMessage(undefined);
  };
}

/** Longest run of operations without a turn of the event loop (timers, signals, I/O callbacks) before one is given. */
const HOG_MS = 20;
let turnAt = realNow();
let marking = false;

/**
 * How long Node's event loop has idled in all, waiting for I/O or timers (undefined elsewhere): grown since the last
 * turn marked, the loop turned again since (an operation waited for a timer or a notice: a FileStore lock's turn).
 */
const loop = globalThis.performance as { eventLoopUtilization?: () => { idle: number } } | undefined;
const idleTime = () => loop?.eventLoopUtilization?.().idle ?? 0;
let idleAt = 0;

/**
 * Turns marked so far, and as many when the last operation began: one marked since is a turn during that operation or
 * after it, which idle time may miss: a process held up past a timer's due time (a loaded machine) finds it due
 * without waiting, and no idle is counted.
 */
let turns = 0;
let turnsAtStart = 0;

/**
 * Undefined while the event loop has had a turn within `HOG_MS`, else a promise of its next turn. A store whose calls
 * finish synchronously (FileStore's file calls, MemoryStore) resolves every operation in microtasks: a caller's loop
 * of awaited operations would then never let a timer, an I/O callback or a signal handler (a SIGTERM that closes the
 * queue) run.
 */
function turnIfHogging(): Promise<void> | undefined {
  const turned = turns !== turnsAtStart;
  turnsAtStart = turns;
  if (!marking) {
    marking = true;
    macrotask(() => {
      marking = false;
      turns++;
      turnAt = realNow();
      idleAt = idleTime();
    });
  }
  if (realNow() - turnAt < HOG_MS) return undefined;
  // An operation that waited on the event loop (a FileStore lock's turn) hogged nothing: a turn given now would run
  // what that wait's hold put off to the end of its task first (the lock kept for the commit that follows, given up).
  const idle = idleTime();
  if (turned || idle > idleAt) {
    idleAt = idle;
    turnAt = realNow();
    return undefined;
  }
  return new Promise((resolve) => macrotask(() => resolve()));
}

/**
 * Runs functions one at a time, each after the previous one settled (a failure does not stop the line): how a
 * handle keeps its own operations from interleaving. Gives the event loop a turn when it had none for `HOG_MS`.
 */
export function serial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return <R>(fn: () => R | Promise<R>): Promise<R> => {
    const run = tail.then(() => {
      const turn = turnIfHogging();
      return turn ? turn.then(fn) : fn();
    });
    tail = run.catch(() => undefined);
    return run;
  };
}
