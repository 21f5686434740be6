/**
 * `bytes` copied into memory of its own. Not `bytes.slice()`: on a Node `Buffer` (and the `buffer` package's, in a
 * browser bundle) `slice` is a view on the same memory, and a caller's bytes often are one (an encoder's reused
 * buffer, Node's 8 KiB pool of small Buffers).
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
