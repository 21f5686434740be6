import { SluiceError } from './errors.js';

/** What a platform's storage failure means, by its errno code or DOMException name. */
const MEANING: Readonly<Record<string, string>> = {
  QuotaExceededError: 'the storage quota is exhausted',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EIO: 'an I/O error',
};

const FULL = new Set(['QuotaExceededError', 'ENOSPC', 'EDQUOT']);

/**
 * Any store's failure as a SluiceError, the one translation every store uses: a full disk or quota is
 * 'ERR_QUOTA_EXCEEDED', anything else 'ERR_STORAGE'; `cause` keeps the original. SluiceErrors pass through.
 */
export function storageError(error: unknown, message: string): SluiceError {
  if (error instanceof SluiceError) return error;
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  const key = typeof code === 'string' && code ? code : typeof name === 'string' ? name : '';
  const meaning = MEANING[key];
  return new SluiceError(FULL.has(key) ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE', meaning ? `${message} ${key}: ${meaning}.` : key ? `${message} (${key})` : message, {
    cause: error,
  });
}
