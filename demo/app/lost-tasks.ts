// A workaround, until the outbox does this itself (see the README's Demo section).
//
// When two tabs store tasks at the same moment, one tab's outbox can lose sight of the other's: a handle reads what
// others stored after the last task it knows of, and its own store may have been numbered after theirs. Those tasks
// stay stored, but that handle neither sends nor lists them (so this page would show them as sent) until the outbox
// is opened again. `size()` counts what is stored, `list()` what the handle sees; when they disagree for a few
// seconds running, the page opens its outbox afresh.

/** Counts redraws where the outbox stores more tasks than it lists. */
export class LostTasks {
  #behind = 0;

  /** True when `stored` has exceeded `listed` three times running: time to open the outbox again. */
  check(stored: number, listed: number): boolean {
    this.#behind = stored > listed ? this.#behind + 1 : 0;
    return this.#behind >= 3;
  }

  reset(): void {
    this.#behind = 0;
  }
}
