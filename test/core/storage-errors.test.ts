import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.js';
import { storageError } from '../../src/core/storage-errors.js';

const errno = (code: string) => Object.assign(new Error(`${code}: something`), { code });

describe('storageError()', () => {
  it('a full disk, quota or memory is ERR_QUOTA_EXCEEDED, whatever the platform says it with', () => {
    for (const error of [errno('ENOSPC'), errno('EDQUOT'), new DOMException('full', 'QuotaExceededError'), Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), { name: 'ReplyError' })]) {
      const translated = storageError(error, 'Cannot store.');
      expect(translated.code).toBe('ERR_QUOTA_EXCEEDED');
      expect(translated.cause).toBe(error);
    }
  });

  it('anything else is ERR_STORAGE, saying what it means', () => {
    expect(storageError(errno('EROFS'), 'Cannot store.').message).toBe('Cannot store. EROFS: the file system is read-only');
    expect(storageError(errno('EACCES'), 'Cannot store.').message).toBe('Cannot store. EACCES: permission denied');
    const odd = storageError(new DOMException('The transaction was aborted.', 'AbortError'), 'Cannot store.');
    expect(odd.code).toBe('ERR_STORAGE');
    expect(odd.message).toBe('Cannot store. AbortError: The transaction was aborted.');
  });

  it('a SluiceError passes through unchanged', () => {
    const error = new SluiceError('ERR_LOCKED', 'locked');
    expect(storageError(error, 'x')).toBe(error);
  });
});
