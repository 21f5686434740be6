// A workaround, until the outbox does this itself (see the README's Demo section).
//
// An outbox handle that does not deliver still keeps an index of the pending tasks, and it learns each task's state
// once, when it first reads it: a task another handle had just taken (a tab probing for the network, say) is
// noted as in flight until that lease would end, a minute or more later, even though the tab released it at once or
// was closed. A worker whose handle stayed open while the tabs worked would wait that long after they closed, and
// a Background Sync event that finds nothing to send is put off by the browser for minutes.
//
// So the worker hands `backgroundSync` this adapter (`SyncableOutbox` is what `backgroundSync` needs): every flush
// opens the outbox afresh, after taking back what closed tabs held, delivers, and closes it.
import { Outbox, type FlushResult, type OutboxOptions } from 'sluice';
import type { SyncableOutbox } from 'sluice/sw';
import { reclaimFromClosedTabs } from './closed-tabs';

export class FreshOutbox extends EventTarget implements SyncableOutbox {
  readonly #options: OutboxOptions;

  constructor(options: OutboxOptions) {
    super();
    this.#options = options;
  }

  async flush(options?: { readonly reachable?: boolean }): Promise<FlushResult> {
    return this.#with((outbox) => outbox.flush(options));
  }

  async size(): Promise<number> {
    return this.#with((outbox) => outbox.size());
  }

  async #with<R>(use: (outbox: Outbox) => Promise<R>): Promise<R> {
    await reclaimFromClosedTabs(this.#options.name);
    const outbox = await Outbox.open(this.#options);
    try {
      return await use(outbox);
    } finally {
      await outbox.close();
    }
  }
}
