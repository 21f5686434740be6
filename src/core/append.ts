/**
 * Adds `items` to the end of `to`. Not `to.push(...items)`: spread into a call, a list of some 120 000 items or more
 * overflows the stack (a `list()` of a large queue threw a RangeError).
 */
export function append<T>(to: T[], items: readonly T[]): T[] {
  for (const item of items) to.push(item);
  return to;
}
