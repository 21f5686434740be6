/**
 * Whether `value` is an ArrayBuffer or SharedArrayBuffer, of this realm or another's (an iframe's, a `vm` context's),
 * as its length getter tells: `instanceof` misses another realm's, and a tag can be any object's.
 */
export function isBuffer(value: unknown): boolean {
  // The tag first: it costs no throw for the values that are none (every value of a JSON body is asked).
  if (!/^\[object (Shared)?ArrayBuffer\]$/.test(Object.prototype.toString.call(value))) return false;
  const types: ({ prototype: object } | undefined)[] = [ArrayBuffer, (globalThis as { SharedArrayBuffer?: { prototype: object } }).SharedArrayBuffer];
  return types.some((type) => {
    try {
      return type !== undefined && typeof Object.getOwnPropertyDescriptor(type.prototype, 'byteLength')!.get!.call(value) === 'number';
    } catch {
      return false;
    }
  });
}
