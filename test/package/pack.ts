import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const here = fileURLToPath(new URL('.', import.meta.url));
export const repo = resolve(here, '../..');

export interface Packed {
  /** The tarball `npm pack` made. */
  readonly tarball: string;
  /** A project outside the repository with the tarball installed, and the consumer files of `consumer/`. */
  readonly project: string;
  remove(): void;
}

/**
 * Packs the package and installs the tarball into a fresh project outside the repository, so that nothing resolves
 * through the repository's own node_modules by accident.
 *
 * The pack skips the `prepack` build: `npm test` has just built, and building again here would rewrite dist/ under
 * the suites that run beside this one. The install is offline and needs no npm cache: `idb`, the one dependency,
 * is installed from the repository's node_modules (as `npm ci` left it) as a local folder, which satisfies the
 * package's `idb` range, so npm fetches nothing, also on a fresh CI machine.
 */
export async function packAndInstall(): Promise<Packed> {
  if (!existsSync(join(repo, 'dist/index.js'))) await run(npm, ['run', 'build'], { cwd: repo });
  const root = mkdtempSync(join(tmpdir(), 'sluice-package-'));
  try {
    const { stdout } = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', root], { cwd: repo });
    const tarball = join(root, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
    const project = join(root, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'sluice-consumer', private: true, type: 'module' }));
    const offline = ['--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '--cache', join(root, 'npm-cache')];
    // ioredis, the optional peer dependency of sluice/redis, the same way.
    await run(npm, ['install', tarball, join(repo, 'node_modules/idb'), join(repo, 'node_modules/ioredis'), ...offline], { cwd: project });
    // Node's types for the set-ups that have them, as a Node project installs them.
    mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(repo, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'), 'junction');
    cpSync(join(here, 'consumer'), project, { recursive: true });
    return { tarball, project, remove: () => rmSync(root, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
