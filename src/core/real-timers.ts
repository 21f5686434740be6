// Taken when sluice loads: what sluice schedules for itself (yields of the event loop, a FileStore lock's waits and
// hand-overs) is not the app's time, and fake timers a test installs later (vitest's, sinon's) must neither stop it
// nor speed it up. Time the app may fake on purpose (leases, retries) goes through the injectable `Clock` instead.

/** Monotonic milliseconds, as `performance.now()` gave them at load. */
export const realNow: () => number = globalThis.performance ? globalThis.performance.now.bind(globalThis.performance) : Date.now;

/** The platform's `setTimeout`, as it was at load. */
export const realSetTimeout: (fn: () => void, ms: number) => ReturnType<typeof setTimeout> = globalThis.setTimeout.bind(globalThis);

/** The platform's `clearTimeout`, as it was at load. */
export const realClearTimeout: (handle: ReturnType<typeof setTimeout> | undefined) => void = globalThis.clearTimeout.bind(globalThis);
