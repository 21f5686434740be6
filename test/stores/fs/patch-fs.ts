import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach } from 'vitest';

/** The functions of node:fs tests replace to make a disk fill up, a descriptor run out or a call fail. */
export type PatchableFs = Pick<typeof fs, 'writeSync' | 'ftruncateSync' | 'statfsSync' | 'openSync'>;

/** node:fs's own functions, as they were before any test replaced them. */
export const realFs: PatchableFs = {
  writeSync: fs.writeSync,
  ftruncateSync: fs.ftruncateSync,
  statfsSync: fs.statfsSync,
  openSync: fs.openSync,
};

/** Replaces functions of node:fs, for the store's ESM imports as well (`syncBuiltinESMExports`). */
export function patchFs(replacements: Partial<PatchableFs>): void {
  Object.assign(fs, replacements);
  syncBuiltinESMExports();
}

/** Puts node:fs's own functions back. */
export function restoreFs(): void {
  patchFs(realFs);
}

/** Puts node:fs's own functions back after each test of the file that calls it. */
export function restoreFsAfterEach(): void {
  afterEach(restoreFs);
}
