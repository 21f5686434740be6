// What the property tests of bad input share: values a caller may pass by mistake, and how a call ended.
import fc from 'fast-check';
import { SluiceError } from '../../src/index.js';

/** Cases per property: a few in `npm test`, many with e.g. `SLUICE_PROPERTY_RUNS=3000`. */
export const RUNS = Number(process.env.SLUICE_PROPERTY_RUNS ?? 150);

/** Values of every type, and `nearMisses` of the right ones beside some any call may get wrong. */
export function junk(...nearMisses: unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true }),
    fc.constantFrom(-1, 0, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, '', [], {}, null, undefined, () => true, Symbol('s'), ...nearMisses),
  );
}

/** How `call` ended: 'ok', or what it threw or rejected with. An async iterator it returns is stepped once. */
export async function outcome(call: () => unknown): Promise<unknown> {
  try {
    const result = call();
    if (result && typeof (result as AsyncGenerator).next === 'function' && Symbol.asyncIterator in (result as object)) {
      const it = result as AsyncGenerator;
      await it.next();
      await it.return(undefined);
    } else await result;
    return 'ok';
  } catch (error) {
    return error;
  }
}

/** True when a call ended well: it worked, or refused with a SluiceError that has a code. */
export function typed(ended: unknown): boolean {
  return ended === 'ok' || (ended instanceof SluiceError && typeof ended.code === 'string');
}

/**
 * Checks that `open` given anything as its options (or options named `names`, each anything), half of those made
 * openable by `openable`'s fields, rejects with a SluiceError or opens (and then closes).
 */
export function opensOrRefuses(
  open: (options: never) => Promise<{ close(): Promise<void> }>,
  names: readonly string[],
  values: fc.Arbitrary<unknown>,
  openable: () => object,
): Promise<void> {
  return fc.assert(
    fc.asyncProperty(fc.oneof(values, fc.dictionary(fc.constantFrom(...names), values)), fc.boolean(), async (o, fix) => {
      const given = fix && typeof o === 'object' && o !== null ? { ...o, ...openable() } : o;
      const ended = await outcome(async () => (await open(given as never)).close());
      if (!typed(ended)) throw new Error(`open ended with ${String(ended)}`, { cause: ended });
    }),
    { numRuns: RUNS },
  );
}
