import { describe, expect, expectTypeOf, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { describe as describeValue, messageOf } from '../../src/core/errors.js';
import { SluiceError, type SluiceErrorCode } from '../../src/index.js';

describe('describe()', () => {
  it('never echoes the user and password of a URL, however else it is wrong', () => {
    for (const url of ['redis:/user:s3cret@h', ' redis://:s3cret@h', 'valkey://:s3cret@h:6379', 'https://u:s3cret@x.test:25/', 'htps://u:s3cret@x.test/', 'redis://:p@s3cret@h', 'redis://:ab#s3cret@cache:6379', 'redis://:a?s3cret@h', 'redis://:a/s3cret@h', 'redis://:a s3cret@h',
      // Quotes an env file kept, brackets, scheme-relative: no scheme at the start, a URL all the same.
      '"redis://:s3cret@cache:6379"', "'redis://default:s3cret@h'", '<https://u:s3cret@x.test/>', '//alice:s3cret@files.test/x', '\\\\u:s3cret@h', '/\\u:s3cret@h', '"http:/u:s3cret@h"', '"http:u:s3cret@h/x"']) {
      expect(describeValue(url)).not.toContain('s3cret');
      expect(describeValue(url)).toContain('***@');
    }
    expect(describeValue('https://x.test/a')).toBe('"https://x.test/a"');
    expect(describeValue('"redis://:s3cret@cache:6379"')).toBe(JSON.stringify('"redis://***@cache:6379"'));
  });

  it('says a revoked Proxy is an object, rather than throw on it', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(describeValue(proxy)).toBe('an object');
  });
});

describe('SluiceError', () => {
  it('carries a stable code, a name and the cause', () => {
    const cause = new Error('EIO');
    const error = new SluiceError('ERR_STORAGE', 'The disk failed.', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SluiceError');
    expect(error.code).toBe('ERR_STORAGE');
    expect(error.cause).toBe(cause);
    expectTypeOf(error.code).toEqualTypeOf<SluiceErrorCode>();
  });

  it('instanceof holds for an error from another copy of the package (same brand)', () => {
    const brand = Symbol.for('sluice.SluiceError');
    const foreign = Object.assign(new Error('x'), { code: 'ERR_CLOSED', [brand]: true });
    expect(foreign instanceof SluiceError).toBe(true);
    expect(new Error('x') instanceof SluiceError).toBe(false);
    expect((null as unknown as object) instanceof SluiceError).toBe(false);
  });
});

describe('messageOf', () => {
  it("says what any thrown value says, and never throws: another realm's Error, a plain object, one without a prototype", () => {
    expect(messageOf(new TypeError('bad'))).toBe('bad');
    expect(messageOf(runInNewContext('new Error("from a vm")'))).toBe('from a vm');
    expect(messageOf({ message: 'own' })).toBe('own');
    expect(messageOf(Object.create(null))).toBe('[object Object]');
    expect(messageOf({ toString: () => { throw new Error('no'); } })).toBe('[object Object]');
    expect(messageOf(undefined)).toBe('undefined');
    expect(messageOf(42n)).toBe('42');
  });
});
