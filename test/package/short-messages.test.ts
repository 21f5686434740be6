import { parseAst } from 'rollup/parseAst';
import { describe, expect, it } from 'vitest';
import { shortMessages } from '../../build/short-messages.mjs';

/** The code `shortMessages` renders for one chunk, as rollup would call it. */
function render(code: string): string {
  const hook = shortMessages().renderChunk as (this: unknown, code: string, chunk: { fileName: string }) => { code: string } | null;
  const result = hook.call({ parse: (source: string) => parseAst(source) }, code, { fileName: 'chunk.js' });
  return result === null ? code : result.code;
}

/** The message `expression`, a `new SluiceError(…)`, carries once rendered, with `option` and `full` in scope. */
function message(expression: string): string {
  class SluiceError {
    constructor(
      readonly code: string,
      readonly message: string,
    ) {}
  }
  const run = new Function('SluiceError', 'option', 'full', `${render(`const error = ${expression};`)} return error.message;`);
  return run(SluiceError, 'leaseMs', true) as string;
}

describe('shortMessages (the production build)', () => {
  it('gives a message the code, its words and the name it quotes in backticks', () => {
    expect(message("new SluiceError('ERR_INVALID_OPTION', 'Expected `ids` to be an array of entry ids.')")).toBe('ERR_INVALID_OPTION: invalid option `ids`');
    expect(message('new SluiceError(\'ERR_INVALID_OPTION\', `Expected \\`${option}\\` to be ${1 + 1}, got x.`)')).toBe('ERR_INVALID_OPTION: invalid option `leaseMs`');
  });

  // Before, a name made of more than one expression, or of text and one, was dropped: a misspelt option in a
  // production bundle was "invalid option", with no name.
  it('quotes a name made of several expressions, or of text and expressions, between two backticks', () => {
    expect(message('new SluiceError(\'ERR_INVALID_OPTION\', `Unknown option \\`${"retry."}${option}\\`: the options here are ${[1].join()}.`)')).toBe(
      'ERR_INVALID_OPTION: invalid option `retry.leaseMs`',
    );
    expect(message('new SluiceError(\'ERR_INVALID_OPTION\', `Use \\`await ${option}.open(options)\\`, not \\`new ${option}()\\`.`)')).toBe(
      'ERR_INVALID_OPTION: invalid option `await leaseMs.open(options)`',
    );
  });

  it('gives a message that quotes nothing the code and its words only', () => {
    expect(message('new SluiceError(\'ERR_CLOSED\', `Queue "${option}" is closed; open it again to use it.`)')).toBe('ERR_CLOSED: closed');
    expect(message("new SluiceError('ERR_CORRUPT', 'Segment 1 fails. ' + 'Open the queue with `corruption`.')")).toBe('ERR_CORRUPT: corrupt data');
  });

  it('follows a code chosen at run time between two literals', () => {
    expect(message("new SluiceError(full ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE', 'Writing failed.')")).toBe('ERR_QUOTA_EXCEEDED: storage full');
  });

  it('drops what only the long message used', () => {
    expect(render("new SluiceError('ERR_STORAGE', `failed: ${describe(error)}`, { cause: error });")).toBe('new SluiceError(\'ERR_STORAGE\', `ERR_STORAGE: storage failed`, { cause: error });');
  });

  it('fails the build on a code it has no words for, or one it cannot read', () => {
    expect(() => render("new SluiceError('ERR_NEW', 'A new code.');")).toThrow(/ERR_NEW has no words/);
    expect(() => render("new SluiceError(code, 'Any code.');")).toThrow(/must be a literal/);
  });
});
