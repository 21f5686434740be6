import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, SluiceError } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';

// What a power cut leaves: files cut at any byte, tails overwritten with garbage. Opening must recover the valid
// prefix and hand out no damaged item; the only error allowed is ERR_CORRUPT, where damage is followed by data.
describe('FileStore after a simulated power cut', () => {
  let pristine: string;
  const values = Array.from({ length: 100 }, (_, n) => n);

  beforeAll(async () => {
    pristine = mkdtempSync(join(tmpdir(), 'sluice-cut-'));
    const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: pristine }), segmentItems: 30 });
    for (let i = 0; i < 100; i += 10) {
      if (i % 20 === 0) await q.pushMany(values.slice(i, i + 10));
      else await Promise.all(values.slice(i, i + 10).map((v) => q.push(v)));
    }
    await q.close();
  });
  afterAll(() => rmSync(pristine, { recursive: true, force: true }));

  const damage = fc.record({
    file: fc.nat(),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    kind: fc.constantFrom('truncate', 'garbage', 'zeros'),
    length: fc.integer({ min: 1, max: 300 }),
    seed: fc.nat(),
  });

  it('a cut in the middle of a commit: lock files, a half-written metadata temp file and a torn frame are all cleared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cut-'));
    try {
      cpSync(pristine, dir, { recursive: true });
      const qdir = join(dir, 'q');
      const dead = Number(String(spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout).trim());
      // The lock of the process that was committing, its takeover marker left empty, its metadata half written.
      writeFileSync(join(qdir, 'lock'), JSON.stringify({ pid: dead, host: hostname() }));
      writeFileSync(join(qdir, 'lock.steal'), '');
      const longAgo = new Date(Date.now() - 3_600_000);
      utimesSync(join(qdir, 'lock.steal'), longAgo, longAgo);
      writeFileSync(join(qdir, `meta.${dead}.0badc0de.tmp`), Buffer.from([1, 2, 3]));
      // And the first 5 bytes of a frame it was appending.
      const tail = readdirSync(qdir).filter((f) => f.endsWith('.seg')).sort().at(-1)!;
      appendFileSync(join(qdir, tail), Buffer.from([40, 0, 0, 0, 7]));
      const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir, lockTimeoutMs: 1000 }), segmentItems: 30 });
      expect((await q.list()).map((e) => e.value)).toEqual(values);
      // The torn frame was cut off, not kept in front of the next push.
      expect(statSync(join(qdir, tail)).size).toBe(statSync(join(pristine, 'q', tail)).size);
      await q.push(100);
      expect((await q.list()).at(-1)!.value).toBe(100);
      await q.close();
      expect(readdirSync(qdir).filter((f) => f.startsWith('lock') || f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recovers the valid prefix or says ERR_CORRUPT, never hands out a damaged item', async () => {
    await fc.assert(
      fc.asyncProperty(damage, fc.constantFrom<'throw' | 'skip'>('throw', 'skip'), async (d, corruption) => {
        const dir = mkdtempSync(join(tmpdir(), 'sluice-cut-'));
        try {
          cpSync(pristine, dir, { recursive: true });
          const qdir = join(dir, 'q');
          const files = readdirSync(qdir).filter((f) => f.endsWith('.seg') || f === 'meta').sort();
          const file = join(qdir, files[d.file % files.length]!);
          const bytes = readFileSync(file);
          const at = Math.floor(d.at * bytes.length);
          if (d.kind === 'truncate') truncateSync(file, at);
          else {
            let x = d.seed || 1;
            const junk = Buffer.from(Array.from({ length: d.length }, () => (d.kind === 'zeros' ? 0 : ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff)));
            writeFileSync(file, Buffer.concat([bytes.subarray(0, at), junk]));
          }
          let got: number[];
          try {
            const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir }), segmentItems: 30, corruption });
            try {
              got = (await q.list()).map((e) => e.value);
              await q.push(1000);
              expect((await q.list()).at(-1)!.value).toBe(1000);
            } finally {
              await q.close();
            }
          } catch (error) {
            expect(error).toBeInstanceOf(SluiceError);
            expect((error as SluiceError).code).toBe('ERR_CORRUPT');
            expect(corruption).toBe('throw');
            return;
          }
          // Every item handed out is one that was pushed, in order, none twice.
          for (const v of got) expect(values).toContain(v);
          for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
          // Damage to one file loses at most the items of that file.
          expect(got.length).toBeGreaterThanOrEqual(100 - 40);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
