// Retries as every tab sees them. Only the handle that delivers (one tab at a time, a Web Lock) hears 'retry' events
// and knows a task's next attempt time and last status; in the other tabs `outbox.list()` shows that task as
// 'ready', attempts aside. So the delivering tab relays its retries here, and the others show what it said.
import type { PendingTask } from 'sluice';

interface Relayed {
  readonly id: string;
  readonly at: number;
  readonly status?: number;
  readonly error?: string;
}

export class RetryRelay {
  readonly #channel = new BroadcastChannel('field-notes:retries');
  readonly #heard = new Map<string, Relayed>();

  constructor(onHeard: () => void) {
    this.#channel.onmessage = (event: MessageEvent<Relayed>) => {
      this.#heard.set(event.data.id, event.data);
      onHeard();
    };
  }

  /** Tells the other tabs that task `id` failed and is tried again in `delayMs`. */
  tell(id: string, delayMs: number, status: number | undefined, error: string | undefined): void {
    this.#channel.postMessage({ id, at: Date.now() + delayMs, ...(status !== undefined && { status }), ...(error !== undefined && { error }) });
  }

  /** The task has left the outbox (sent or dead): nothing more to show. */
  forget(id: string): void {
    this.#heard.delete(id);
  }

  /** `task` as this tab should show it: with the retry another tab relayed, when this tab's own view has none. */
  view(task: PendingTask): PendingTask {
    const heard = this.#heard.get(task.id);
    if (!heard || task.state !== 'ready' || task.lastStatus !== undefined || task.lastError !== undefined) return task;
    const last = { ...(heard.status !== undefined && { lastStatus: heard.status }), ...(heard.error !== undefined && { lastError: heard.error }) };
    // Once the time is past, the delivering tab is trying it again: 'ready' here, with what the last try got.
    return heard.at > Date.now() ? { ...task, ...last, state: 'retrying', nextAttemptAt: heard.at } : { ...task, ...last };
  }
}
