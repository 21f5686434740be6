// A call spread from an array of some 120 000 items or more overflows the stack (a `list()` of a large queue threw a
// RangeError): these take lists of any length, in pieces well under that, and a short one in one call as before.
const PIECE = 8192;

/** `to.splice(start, deleteCount, ...items)`, for `items` of any length. */
export function splice<T>(to: T[], start: number, deleteCount: number, items: readonly T[]): void {
  if (items.length <= PIECE) {
    to.splice(start, deleteCount, ...items);
    return;
  }
  to.splice(start, deleteCount);
  for (let at = 0; at < items.length; at += PIECE) to.splice(start + at, 0, ...items.slice(at, at + PIECE));
}

/** `to.push(...items)`, for `items` of any length; returns `to`. */
export function append<T>(to: T[], items: readonly T[]): T[] {
  splice(to, to.length, 0, items);
  return to;
}
