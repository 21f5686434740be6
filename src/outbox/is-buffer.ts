/**
 * Whether `value` is an ArrayBuffer or SharedArrayBuffer, of this realm or another's (an iframe's, a `vm` context's),
 * as its length getter tells: `instanceof` misses another realm's, and a tag can be any object's (or a buffer's other).
 */
export function isBuffer(value: unknown): boolean {
  const Shared = (globalThis as { SharedArrayBuffer?: new () => object }).SharedArrayBuffer;
  if (value instanceof ArrayBuffer || (Shared !== undefined && value instanceof Shared)) return true;
  // Plain objects and arrays, most of what a JSON body holds (each of its values is asked), cost no throw.
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) return false;
  const types: ({ prototype: object } | undefined)[] = [ArrayBuffer, Shared];
  return types.some((type) => {
    try {
      return type !== undefined && typeof Object.getOwnPropertyDescriptor(type.prototype, 'byteLength')!.get!.call(value) === 'number';
    } catch {
      return false;
    }
  });
}
