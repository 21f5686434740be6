import { describe, it } from 'vitest';
import { browserRequired, findEngines, skipNotice, type Engine } from '../browser/engines.mjs';

/**
 * Declares `suite` once per browser engine (those SLUICE_ENGINES names, all three by default), titled with the
 * engine's name. An engine that is missing is said loudly and its suite skipped; with SLUICE_REQUIRE_BROWSER=1 a
 * missing engine fails the run instead.
 */
export function eachEngine(suite: string, body: (engine: Engine) => void): void {
  for (const engine of findEngines()) {
    const title = `${suite}, in ${engine.label}`;
    if (engine.missing === undefined) {
      describe(title, () => body(engine));
      continue;
    }
    console.warn(skipNotice(suite, engine));
    if (browserRequired) throw new Error(`SLUICE_REQUIRE_BROWSER=1: ${engine.label} is missing (${engine.missing}).`);
    // Declared, so that its tests count as skipped, but never run: nothing reads the missing engine's paths.
    describe.skip(title, () => body(engine as unknown as Engine));
  }
}

/**
 * Declares a test `title` that cannot run in `engine`, skipped, and says so loudly with `reason`: a limit of the
 * engine or its driver, not a missing engine, so SLUICE_REQUIRE_BROWSER=1 lets it pass.
 */
export function skipLoudly(title: string, engine: Engine, reason: string): void {
  console.warn(`\n*** SKIPPED in ${engine.label}: "${title}": ${reason}. ***\n`);
  it.skip(`${title} (skipped in ${engine.label}: ${reason})`, () => undefined);
}

/** Declares the test `title` in the engine named `only`; in the others, skipped loudly with `reason` (see `skipLoudly`). */
export function itOnlyIn(only: Engine['name'], engine: Engine, title: string, reason: string, fn: () => Promise<void>, timeout?: number): void {
  if (engine.name === only) it(title, fn, timeout);
  else skipLoudly(title, engine, reason);
}
