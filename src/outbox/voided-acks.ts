/** Per outbox queue, entries whose task in flight here was replaced (see `voidAck`). */
const voided = new WeakMap<object, Set<string>>();

/**
 * The task in flight here under entry `id` of `queue` was lost, and the entry holds another handle's task now (see
 * `PendingStore.catchUp`): the ack of its response, by entry id, must not remove that one (see `ackable`).
 */
export function voidAck(queue: object, id: string): void {
  let ids = voided.get(queue);
  if (!ids) voided.set(queue, (ids = new Set()));
  ids.add(id);
}

/** Of the entries `ids` whose tasks were delivered, those to remove from `queue`: not one voided (once each). */
export function ackable(queue: object, ids: string[]): string[] {
  const away = voided.get(queue);
  return away?.size ? ids.filter((id) => !away.delete(id)) : ids;
}
