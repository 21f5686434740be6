import { describe, SluiceError } from './errors.js';

/** What a valid value is, in the words of an error message, and the test of it. */
export type Rule = readonly [expected: string, test: (value: unknown) => boolean];

// The rules every option of sluice is checked against: one table per options object (Queue, Outbox, each store),
// one message style, "Expected `leaseMs` to be a finite number > 0, got -1."

export const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Rule => [
  max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`,
  (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
];

/** A count that may be Infinity (no limit). */
export const limit = (min: number): Rule => [`an integer >= ${min} (or Infinity)`, (v) => v === Infinity || (Number.isInteger(v) && (v as number) >= min)];

export const positive: Rule = ['a finite number > 0', (v) => typeof v === 'number' && Number.isFinite(v) && v > 0];

/** The longest duration any option or call takes: a hundred years, as a `Retry-After` header gets. Longer is a slip. */
export const LONGEST_MS = 100 * 365 * 24 * 3600_000;

/** A duration in milliseconds from `min` to a hundred years: a wait must end (one of 1e300 ms never does). */
export const duration = (min: number): Rule => [`a duration from ${min} ms to a hundred years (3.1536e12 ms)`, (v) => typeof v === 'number' && v >= min && v <= LONGEST_MS];

/** A number from `min` on, not Infinity. */
export const finiteFrom = (min: number): Rule => [`a finite number >= ${min}`, (v) => typeof v === 'number' && Number.isFinite(v) && v >= min];

export const atLeast = (min: number): Rule => [`a number >= ${min}`, (v) => typeof v === 'number' && v >= min];

export const oneOf = (...values: readonly string[]): Rule => [`one of ${values.map((v) => `'${v}'`).join(', ')}`, (v) => values.includes(v as string)];

export const isFunction: Rule = ['a function', (v) => typeof v === 'function'];

export const isBoolean: Rule = ['a boolean', (v) => typeof v === 'boolean'];

export const text: Rule = ['a non-empty string', (v) => typeof v === 'string' && v !== ''];

export const isObject: Rule = ['an object', (v) => typeof v === 'object' && v !== null];

/** An object with these methods (a codec, a clock, a store). */
export const withMethods = (...names: readonly string[]): Rule => [
  `an object with ${names.join(', ')}`,
  (v) => typeof v === 'object' && v !== null && names.every((name) => typeof (v as Record<string, unknown>)[name] === 'function'),
];

/** A codec: `encode` and `decode`, and `encodeMany`, if it has one, a function. */
export const isCodec: Rule = [
  'an object with encode, decode (and encodeMany, if any, a function)',
  (v) => withMethods('encode', 'decode')[1](v) && ['undefined', 'function'].includes(typeof (v as { encodeMany?: unknown }).encodeMany),
];

/**
 * A `Clock`: `now`, `setTimeout`, `clearTimeout`, and `monotonic` if it has one. Its `now()` is read once: NaN there
 * (a fake clock not yet set) would make every lease end at NaN, never.
 */
export const isClock: Rule = [
  'an object with now (giving a finite number), setTimeout, clearTimeout (and monotonic, if any, a function)',
  (v) => withMethods('now', 'setTimeout', 'clearTimeout')[1](v) && ['undefined', 'function'].includes(typeof (v as { monotonic?: unknown }).monotonic) && finiteNow(v as { now(): unknown }),
];

function finiteNow(clock: { now(): unknown }): boolean {
  try {
    return Number.isFinite(clock.now());
  } catch {
    return false;
  }
}

/** The same rule, `undefined` allowed. */
export const optional = ([expected, test]: Rule): Rule => [expected, (v) => v === undefined || test(v)];

/** Throws 'ERR_INVALID_OPTION' for the first field of `values` that its rule rejects, naming it (after `prefix`). */
export function check(values: object, rules: Readonly<Record<string, Rule>>, prefix = ''): void {
  for (const key in rules) {
    const [expected, test] = rules[key]!;
    const value = (values as Record<string, unknown>)[key];
    if (!test(value)) invalid(prefix + key, expected, value);
  }
}

/**
 * Refuses `null` for each option of `rules` given it: `undefined` leaves an option out (its default), while `null` is
 * no value of any option, and taken for the default it would hide a slip (`store: null` would store in ./.sluice).
 */
export function noNulls(options: object, rules: Readonly<Record<string, Rule>>, prefix = ''): void {
  for (const key in rules) if ((options as Record<string, unknown>)[key] === null) invalid(prefix + key, rules[key]![0], null);
}

/** Throws 'ERR_INVALID_OPTION': "Expected `option` to be `expected`, got `given`." */
export function invalid(option: string, expected: string, given: unknown): never {
  // A string where a function goes is likely a token given to the option that provides one (`headers`): not echoed.
  const shown = typeof given === 'string' && expected === isFunction[0] ? 'a string' : describe(given);
  throw new SluiceError('ERR_INVALID_OPTION', `Expected \`${option}\` to be ${expected}, got ${shown}.`);
}

/**
 * An options object: a plain one (`{ ... }`, of any realm, or of no prototype). Not an array, a typed array or an
 * iterator, whose methods (`filter`, `keys`) would be read as options, nor an instance of a class.
 */
export function isOptions(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  try {
    const proto: unknown = Object.getPrototypeOf(v);
    return proto === null || Object.getPrototypeOf(proto) === null;
  } catch {
    // A revoked Proxy.
    return false;
  }
}

/** `options` when it is a plain object (see `checkedOptions`) or undefined (then `{}`). */
export function optionsObject<O extends object>(options: O | undefined, name = 'options', known?: readonly string[]): O {
  return options === undefined ? ({} as O) : checkedOptions(options, name, known);
}

/**
 * `options` when it is a plain object (see `isOptions`); 'ERR_INVALID_OPTION' naming `name` (expected to be
 * `expected`) otherwise, or naming a key that is none of `known` (when given): a misspelt option would otherwise do
 * nothing, silently.
 */
export function checkedOptions<O extends object>(options: O, name = 'options', known?: readonly string[], expected = 'a plain object'): O {
  if (!isOptions(options)) invalid(name, expected, options);
  if (known) onlyKnown(options, known, name === 'options' ? '' : `${name}.`);
  return options;
}

/** 'ERR_INVALID_OPTION' for a key of `options` that is none of `known` (see `unknownKey`). */
export function onlyKnown(options: object, known: readonly string[], prefix = ''): void {
  const key = unknownKey(options, known);
  if (key === undefined) return;
  const names = known.map((k) => `\`${prefix}${k}\``).join(', ');
  throw new SluiceError('ERR_INVALID_OPTION', `Unknown option \`${prefix}${key}\`: the options here are ${names}.`);
}

/** The first own key of `object` with a value (not `undefined`) that is none of `known`. */
export function unknownKey(object: object, known: readonly string[]): string | undefined {
  return Object.keys(object).find((key) => !known.includes(key) && (object as Record<string, unknown>)[key] !== undefined);
}

/** Options resolved by an `open`: a constructor called with anything else was called from JavaScript, not by `open`. */
const resolvedByOpen = new WeakSet<object>();

/** `options`, marked as resolved by an `open`. */
export function resolvedOptions<O extends object>(options: O): O {
  resolvedByOpen.add(options);
  return options;
}

/** `options` if an `open` resolved them; else 'ERR_INVALID_OPTION' naming the `open` to call (`new Queue()` from JavaScript). */
export function openedWith<O extends object>(options: O, type: string): O {
  if (resolvedByOpen.has(options)) return options;
  throw new SluiceError('ERR_INVALID_OPTION', `Use \`await ${type}.open(options)\`, not \`new ${type}()\`.`);
}

/** `options` without the fields set to `undefined`, so that defaults spread before them hold. */
export function defined<O extends object>(options: O): Partial<O> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<O>;
}
