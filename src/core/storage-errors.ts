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

/**
 * Any store's failure as a SluiceError, the one translation every store uses: a full disk, quota or memory
 * (ENOSPC, EDQUOT, QuotaExceededError, Redis's OOM) is 'ERR_QUOTA_EXCEEDED', anything else 'ERR_STORAGE'; the
 * message says what failed and why, and `cause` keeps the original. SluiceErrors pass through.
 */
export function storageError(error: unknown, message: string): SluiceError {
  if (error instanceof SluiceError) return error;
  const { key, text } = described(error);
  const full = fullBy(key, text);
  const why = MEANING[key] ?? (full ? 'out of memory' : text);
  // Node's messages begin with their code ("EISDIR: illegal operation…"): said once.
  const named = key && !why.startsWith(`${key}:`) ? `${key}: ` : '';
  return new SluiceError(full ? 'ERR_QUOTA_EXCEEDED' : 'ERR_STORAGE', `${message} ${named}${why}`, { cause: error });
}

/** Whether `error` says the storage is full (see `storageError`): a store may make room and try again. */
export function isFull(error: unknown): boolean {
  const { key, text } = described(error);
  return fullBy(key, text);
}

/** An error's errno code or DOMException name (`key`), and its message. */
function described(error: unknown): { key: string; text: string } {
  const { code, name, message: said } = (error ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  const key = typeof code === 'string' && code ? code : typeof name === 'string' ? name : '';
  return { key, text: typeof said === 'string' ? said : String(error) };
}

function fullBy(key: string, text: string): boolean {
  return key === 'QuotaExceededError' || key === 'ENOSPC' || key === 'EDQUOT' || /^OOM\b/.test(text);
}
