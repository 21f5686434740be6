// The command line read from any words: an invocation, or a usage error (a SluiceError), never anything else.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { SluiceError } from '../../../src/index.js';
import { parse } from '../../../src/platform/cli/args.js';
import { RUNS } from '../../support/bad-input.js';

const WORDS = ['ls', 'stats', 'peek', 'drain', 'clear', 'dead', 'list', 'retry', 'purge', 'help', 'q', 'api', '--dir', '--limit', '--json', '--corruption', '--accept-repairs', '--all', '-h', '--help', '--version', '--', '-', '-1', '0', '1', '1e3', 'skip', 'throw', '--limit=5', '--dir=', '--json=1'];
const word = fc.oneof(fc.constantFrom(...WORDS), fc.string(), fc.string({ unit: 'binary' }));

describe('parse()', () => {
  it('reads any words as an invocation or refuses them with a SluiceError', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 6 }), (argv) => {
        try {
          parse(argv);
        } catch (error) {
          if (!(error instanceof SluiceError)) throw new Error(`parse(${JSON.stringify(argv)}) threw ${String(error)}`, { cause: error });
        }
      }),
      { numRuns: RUNS * 20 },
    );
  });
});
