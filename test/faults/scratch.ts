import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the fault trials put their queues, and how a full or read-only disk is made there. As root on Linux, a
 * small tmpfs mounted for the suite: filling it gives real ENOSPC (short writes included), and a read-only bind
 * mount over a queue directory gives real EROFS while the descriptors already open keep working, as when a disk
 * is remounted read-only after an error. Without root, trials run in the temp directory, EACCES comes from chmod,
 * and the full disk is not simulated (`canFill` is false).
 */
export class Scratch {
  readonly path: string;
  readonly mounted: boolean;

  private constructor(path: string, mounted: boolean) {
    this.path = path;
    this.mounted = mounted;
  }

  static create(sizeBytes = 16 << 20): Scratch {
    const path = mkdtempSync(join(tmpdir(), 'sluice-faults-'));
    if (process.platform === 'linux' && process.getuid?.() === 0) {
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'sluice-faults', path]);
      if (mount.status === 0) return new Scratch(path, true);
    }
    return new Scratch(path, false);
  }

  get canFill(): boolean {
    return this.mounted;
  }

  /** How the full and read-only disks are made here, for the suite's report. */
  describe(): string {
    return this.mounted
      ? `a ${Math.round(statfsSync(this.path).blocks * statfsSync(this.path).bsize / 2 ** 20)} MiB tmpfs at ${this.path} (ENOSPC by filling it, EROFS by a read-only bind mount)`
      : `${this.path} (EACCES by chmod; no full disk without root)`;
  }

  /** Fills the disk until a write fails with ENOSPC; the returned function frees it again. */
  fill(): () => void {
    if (!this.mounted) throw new Error('Only a mounted scratch disk can be filled.');
    const filler = join(this.path, 'filler');
    const { bavail, bsize } = statfsSync(this.path);
    writeFileSync(filler, Buffer.alloc(Number(bavail) * Number(bsize)));
    return () => unlinkSync(filler);
  }

  /** Makes `dir` refuse changes (EROFS as root, EACCES otherwise); the returned function undoes it. */
  readOnly(dir: string): () => void {
    if (this.mounted) {
      // A descriptor opened for writing through the new mount in between (a spare file being made on a worker
      // thread) makes the remount busy: then again.
      for (let attempt = 1; ; attempt++) {
        run('mount', ['--bind', dir, dir]);
        try {
          run('mount', ['-o', 'remount,bind,ro', dir]);
          break;
        } catch (error) {
          run('umount', ['-l', dir]);
          if (attempt === 5) throw error;
        }
      }
      // Lazily: a descriptor opened through the read-only mount must not keep it in place.
      return () => run('umount', ['-l', dir]);
    }
    chmodSync(dir, 0o500);
    return () => chmodSync(dir, 0o700);
  }

  dispose(): void {
    // Lazily, like the read-only mounts: a handle a failed trial left open must not keep the disk in place.
    if (this.mounted) run('umount', ['-l', this.path]);
    rmSync(this.path, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${String(result.stderr)}`);
}
