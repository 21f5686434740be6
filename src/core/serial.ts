/** A function that runs the functions given to it one at a time, in call order. */
export type Serial = <R>(fn: () => R | Promise<R>) => Promise<R>;

/**
 * Runs functions one at a time, each after the previous one settled (a failure does not stop the line): how a
 * handle keeps its own operations from interleaving.
 */
export function serial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return <R>(fn: () => R | Promise<R>): Promise<R> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
