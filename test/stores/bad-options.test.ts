// Every store's constructor given anything a caller might pass by mistake: a SluiceError with a code (or a store),
// never a TypeError from deep inside. Nothing is opened: a store touches nothing until a queue opens.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { SluiceError } from '../../src/index.js';
import { junk as anyJunk, RUNS } from '../support/bad-input.js';
import { FileStore } from '../../src/fs.js';
import { IndexedDbStore } from '../../src/indexeddb.js';
import { RedisStore } from '../../src/redis.js';

const junk = anyJunk('x', 'redis://', 'redis://127.0.0.1:1', 'http://x');

const stores: [string, readonly string[], (options: unknown) => unknown][] = [
  ['FileStore', ['dir', 'lockTimeoutMs', 'staleMs', 'sync', 'create', 'mode', 'other'], (o) => new FileStore(o as never)],
  ['IndexedDbStore', ['dbName', 'indexedDB', 'blockedTimeoutMs', 'other'], (o) => new IndexedDbStore(o as never)],
  ['RedisStore', ['client', 'url', 'prefix', 'ownerTtlMs', 'retryMs', 'replicas', 'replicaTimeoutMs', 'onWarning', 'other'], (o) => new RedisStore(o as never)],
];

describe('store options given anything', () => {
  for (const [name, keys, make] of stores) {
    it(`new ${name}() throws a SluiceError (or makes a store)`, () => {
      fc.assert(
        fc.property(fc.oneof(junk, fc.dictionary(fc.constantFrom(...keys), junk)), (options) => {
          try {
            make(options);
          } catch (error) {
            if (!(error instanceof SluiceError)) throw new Error(`new ${name}() threw ${String(error)}`, { cause: error });
          }
        }),
        { numRuns: RUNS },
      );
    });
  }
});
