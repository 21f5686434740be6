import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue, SluiceError } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';

// Who can read and change a FileStore's queues: the owner only, unless `mode` shares them on purpose.
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sluice-perm-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const posix = process.platform !== 'win32';
const asRoot = process.getuid?.() === 0;
const modeOf = (path: string) => statSync(path).mode & 0o7777;
const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SluiceError);
  return error as SluiceError;
};
/** Pushes, takes and acks, so that every kind of file a queue has is made. */
const use = async (store: FileStore) => {
  const q = await Queue.open<number>({ name: 'q', store, segmentItems: 2 });
  await q.pushMany([1, 2]);
  await q.push(3);
  await (await q.take())!.ack();
  return q;
};

describe.runIf(posix)('FileStore option `mode`', () => {
  it('defaults to private: directories 0700, files 0600, whatever the umask lets through', async () => {
    const dir = join(root, 'store');
    const q = await use(new FileStore({ dir }));
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(dir, 'q'))).toBe(0o700);
    const names = readdirSync(join(dir, 'q'));
    for (const kind of ['commits', 'meta', '.seg', '.own', 'spare.']) expect(names.some((n) => n.includes(kind))).toBe(true);
    for (const name of names) expect([name, modeOf(join(dir, 'q', name))]).toEqual([name, 0o600]);
    await q.close();
  });

  it('0o660 shares a queue with a group: files 0660, directories 0770, though the umask would take group write away', async () => {
    const dir = join(root, 'store');
    const q = await use(new FileStore({ dir, mode: 0o660 }));
    expect(modeOf(dir)).toBe(0o770);
    expect(modeOf(join(dir, 'q'))).toBe(0o770);
    // Spare segment files are made in the background and get their mode once made (a segment made from one is
    // checked here as a segment).
    const names = readdirSync(join(dir, 'q')).filter((n) => !n.startsWith('spare.'));
    expect(names.filter((n) => n.endsWith('.seg')).length).toBeGreaterThan(1);
    for (const name of names) expect([name, modeOf(join(dir, 'q', name))]).toEqual([name, 0o660]);
    // The blobs' directory too (an outbox's large bodies), made when the first is written: it was left 0750.
    await q.blobs!.write('b', 0, new Uint8Array([1]));
    expect(modeOf(join(dir, 'q', 'blobs'))).toBe(0o770);
    await q.close();
    // And a group-writable directory is what such a queue expects, not a danger.
    await (await use(new FileStore({ dir, mode: 0o660 }))).close();
  });

  it('rejects what is not a file mode with read and write for the owner', () => {
    expect(() => new FileStore({ dir: root, mode: 5 })).toThrow('Expected `mode` to be an octal file mode such as 0o600, got 5.');
    for (const mode of [0o400, 0o700, 0o4600, 0o1600, -1, 1.5, '0600', 0o1000]) {
      // @ts-expect-error a string among them
      expect(() => new FileStore({ dir: root, mode })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`mode`') }));
    }
    expect(new FileStore({ dir: root, mode: 0o644 }).dir).toBe(root);
  });
});

describe.runIf(posix)('directories another user could plant files or links in', () => {
  it.runIf(asRoot)('a queue directory owned by another user is refused, naming it', async () => {
    mkdirSync(join(root, 'q'), { mode: 0o700 });
    chownSync(join(root, 'q'), 65534, 65534);
    const error = await refusal(new FileStore({ dir: root }).open('q'));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain(join(root, 'q'));
    expect(error.message).toContain('owned by user 65534');
    expect(error.message).toContain('another user could plant files or links');
    expect(readdirSync(join(root, 'q'))).toEqual([]);
  });

  it.runIf(asRoot)("the store's directory owned by another user is refused too", async () => {
    const dir = join(root, 'store');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, 65534, 65534);
    const error = await refusal(new FileStore({ dir }).open('q'));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain(`store's directory ${dir} is owned by user 65534`);
    // Nothing was made in it.
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a store's directory that is a file is refused as that, not as a place others could plant files in", async () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    const error = await refusal(new FileStore({ dir: file }).open('q'));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toBe(`The store's directory ${file} is not a directory. Choose another path.`);
  });

  it('a directory writable by group or others without the sticky bit is refused; with it, it is not', async () => {
    const dir = join(root, 'store');
    mkdirSync(dir);
    for (const [mode, who] of [[0o777, 'others'], [0o770, 'its group']] as const) {
      chmodSync(dir, mode);
      const error = await refusal(new FileStore({ dir }).open('q'));
      expect(error.code).toBe('ERR_INVALID_OPTION');
      expect(error.message).toContain(`${dir} is writable by ${who} (mode 0o${mode.toString(8)}) and has no sticky bit`);
    }
    // Sticky, as /tmp: others cannot remove or rename what is ours.
    chmodSync(dir, 0o1777);
    const storage = await new FileStore({ dir }).open('q');
    await storage.close();
    // The queue directory itself, made group-writable.
    chmodSync(join(dir, 'q'), 0o770);
    expect((await refusal(new FileStore({ dir }).open('q'))).message).toContain(`queue directory ${join(dir, 'q')} is writable by its group`);
  });

  it('a queue directory that is a symbolic link is refused; a store directory that is one is followed', async () => {
    mkdirSync(join(root, 'real', 'q'), { recursive: true, mode: 0o700 });
    mkdirSync(join(root, 'store'), { mode: 0o700 });
    symlinkSync(join(root, 'real', 'q'), join(root, 'store', 'q'));
    expect((await refusal(new FileStore({ dir: join(root, 'store') }).open('q'))).message).toContain('is a symbolic link');
    symlinkSync(join(root, 'real'), join(root, 'link'));
    const storage = await new FileStore({ dir: join(root, 'link') }).open('q');
    await storage.close();
  });
});

describe.runIf(posix)('a symbolic link planted under the name of a queue file', () => {
  const plant = async (name: string) => {
    const victim = join(root, 'victim');
    writeFileSync(victim, 'not yours');
    const dir = join(root, 'store');
    await (await use(new FileStore({ dir }))).close();
    rmSync(join(dir, 'q', name), { force: true });
    symlinkSync(victim, join(dir, 'q', name));
    return { dir, victim };
  };

  for (const name of ['meta', '0000000000000002.seg', 'commits']) {
    it(`is refused, not followed: ${name}`, async () => {
      const { dir, victim } = await plant(name);
      const error = await refusal(Queue.open<number>({ name: 'q', store: new FileStore({ dir }) }).then(async (q) => {
        try {
          await q.push(4);
          await q.take(10);
        } finally {
          await q.close();
        }
      }));
      expect(error.code).toBe('ERR_STORAGE');
      expect(error.message).toContain(`${join(dir, 'q', name)} is a symbolic link`);
      expect(readFileSync(victim, 'utf8')).toBe('not yours');
    });
  }

  it('a lock file planted as a link is refused too', async () => {
    const { dir, victim } = await plant('lock');
    const error = await refusal(new FileStore({ dir, lockTimeoutMs: 0 }).open('q'));
    expect(error.message).toContain('is a symbolic link');
    expect(readFileSync(victim, 'utf8')).toBe('not yours');
    expect(existsSync(join(dir, 'q', 'lock'))).toBe(true);
  });
});
