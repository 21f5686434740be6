import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { leftover, removeLeftovers } from '../../../src/stores/fs/leftovers.js';
import { fileId, fileTag, thisProcess } from '../../../src/stores/fs/process-id.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const here = thisProcess();
const linux = here.start !== undefined && here.ns !== undefined;

describe('leftovers', () => {
  it('names files with the pid, its start time and its pid namespace, and reads each back', () => {
    const name = `spare.${fileId(fileTag(here))}.tmp`;
    if (linux) expect(name).toMatch(new RegExp(`^spare\\.${here.pid}_${here.start}\\.${Number(here.ns).toString(16).padStart(8, '0')}[0-9a-f]{8}\\.tmp$`));
    expect(leftover(name, here)).toEqual({ kind: 'spare', owner: { host: here.host, pid: here.pid, start: here.start, ...(here.ns && { ns: here.ns }) }, suffix: 'tmp' });
    // Older versions' names still read.
    expect(leftover('lock.12_345.0a1b2c3d.own', here)?.owner).toEqual({ host: here.host, pid: 12, start: 345 });
    expect(leftover('lock.12.0a1b2c3d.17000.wait', here)?.owner).toEqual({ host: here.host, pid: 12 });
  });

  it("without the lock, leaves metadata temp files: one may be a live holder's, about to be renamed into place", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-leftovers-'));
    dirs.push(dir);
    const meta = join(dir, `meta.${fileId(fileTag(here))}.tmp`);
    writeFileSync(meta, '');
    removeLeftovers(dir, false);
    expect(existsSync(meta)).toBe(true);
    removeLeftovers(dir);
    expect(existsSync(meta)).toBe(false);
  });

  // A rolling upgrade has older processes beside newer ones on one directory: they must read the new names as theirs
  // (a waiter's ticket, a claim on an offered lock, a leftover), or the lock's line and hand-over go wrong between them.
  it('makes names the pattern of the versions before reads', () => {
    const before = /^(meta|lock|spare|commits)\.(\d+)(?:_(\d+))?\.[0-9a-f]+\.(tmp|own|\d+\.wait)$/;
    for (const suffix of ['tmp', 'own', '1765000000000.wait']) {
      const match = before.exec(`lock.${fileId(fileTag(here))}.${suffix}`);
      expect(match?.slice(2, 4).map(Number)).toEqual([here.pid, ...(here.start === undefined ? [Number.NaN] : [here.start])]);
    }
  });

  // Before, the pid of a file made in another container was looked up here: absent, or another process's, it read
  // as dead, and every open removed that container's live lock content, spare segment and new counter files.
  it.skipIf(!linux)("removes a dead process's files of this pid namespace, never those of another's", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-leftovers-'));
    dirs.push(dir);
    // This process's pid with another start time: here, a process that is gone (its pid taken again).
    const gone = `${here.pid}_${here.start! + 1}`;
    const ns = (n: number) => n.toString(16).padStart(8, '0');
    const names = {
      deadHere: [`lock.${gone}.${ns(Number(here.ns))}0a1b2c3d.own`, `spare.${gone}.${ns(Number(here.ns))}0a1b2c3e.tmp`, `commits.${gone}.0a1b2c3f.tmp`],
      otherNamespace: [`lock.${gone}.${ns(1)}1a1b2c3d.own`, `spare.${gone}.${ns(1)}1a1b2c3e.tmp`, `commits.${gone}.${ns(1)}1a1b2c3f.tmp`, `lock.${gone}.${ns(1)}1a1b2c40.17000.wait`],
      mine: [`spare.${fileId(fileTag(here))}.tmp`],
    };
    for (const name of Object.values(names).flat()) writeFileSync(join(dir, name), '');
    removeLeftovers(dir);
    expect(readdirSync(dir).sort()).toEqual([...names.otherNamespace, ...names.mine].sort());
    expect(names.deadHere.some((name) => existsSync(join(dir, name)))).toBe(false);
  });
});
