/**
 * A JSON body kept inside its task nests at most this deep. Storage wraps it (the task's item, its `body`, a dead
 * letter around the task: three levels), and the queues' codec refuses items nested past 512 levels: a body near that
 * limit was taken at enqueue and then could not be moved to dead (nor superseded, evicted, expired or skipped). A
 * deeper one goes beside the task as its JSON bytes, as a large one does (and is shown as a `BodyRef`). Kept near
 * that limit, not lower: below it a body is the object `onBeforeSend` and events see, and one a batch can carry.
 */
const INLINE_DEPTH = 500;

/** Whether JSON text nests deeper than a body kept inside its task may. */
export function tooDeepToInline(json: string): boolean {
  // Nesting past the depth takes two brackets a level: text shorter than that is not looked through.
  return json.length > 2 * INLINE_DEPTH && nesting(json) > INLINE_DEPTH;
}

/** How deep JSON text nests its objects and arrays (brackets inside strings do not count). */
function nesting(json: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      for (i++; i < json.length && json.charCodeAt(i) !== 0x22; i++) if (json.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}
