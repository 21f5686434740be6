import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../../src/fs.js';
import { isDead, liveness, ownerName, parseOwner, thisProcess } from '../../../src/stores/fs/process-id.js';

const linux = existsSync('/proc/self/stat');
/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
const startOf = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
};
const deadPid = () => Number(String(spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout).trim());

describe('thisProcess()', () => {
  it.runIf(linux)('names this process by host, pid, boot, start time and pid namespace', () => {
    const me = thisProcess();
    expect(me).toMatchObject({ host: hostname(), pid: process.pid, start: startOf(process.pid) });
    expect(me.boot).toMatch(/^[0-9a-f-]{36}$/);
    expect(me.ns).toMatch(/^\d+$/);
  });
});

describe('liveness()', () => {
  it('is alive for this process, dead for a pid no process has', () => {
    expect(liveness(thisProcess())).toBe('alive');
    expect(liveness({ host: hostname(), pid: deadPid() })).toBe('dead');
  });

  it.runIf(linux)('is dead for this pid with an earlier start time: a restarted container reusing the pid', () => {
    const me = thisProcess();
    expect(liveness({ ...me, start: me.start! - 1 })).toBe('dead');
    // Without a start time, the pid alone decides: a live pid is never taken for a dead one.
    const { start: _, ...withoutStart } = me;
    expect(liveness(withoutStart)).toBe('alive');
  });

  it.runIf(linux)('is alive while a process runs, dead once killed, even as a zombie its parent has not reaped', async () => {
    // `sleep 60` in the background of a shell that becomes `sleep 61`, which never reaps it: killed, it stays a
    // zombie, its pid still there with the same start time, and can release nothing.
    const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 61'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(String(d).trim()))));
      const id = { ...thisProcess(), pid, start: startOf(pid) };
      expect(liveness(id)).toBe('alive');
      // Killed only once the shell is `sleep 61`: a shell that has not exec'd yet reaps its child, and no zombie stays.
      const execd = () => readFileSync(`/proc/${parent.pid}/cmdline`, 'utf8') === 'sleep\x0061\x00';
      for (let i = 0; i < 200 && !execd(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(execd()).toBe(true);
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); i++) await new Promise((r) => setTimeout(r, 10));
      expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toContain(') Z ');
      expect(liveness(id)).toBe('dead');
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('cannot tell for another machine or another pid namespace', () => {
    const me = thisProcess();
    const { boot: _, ...withoutBoot } = me;
    expect(liveness({ ...withoutBoot, host: 'elsewhere.example' })).toBe('elsewhere');
    if (me.boot) expect(liveness({ ...me, host: 'elsewhere.example', boot: '00000000-0000-0000-0000-000000000000' })).toBe('elsewhere');
    if (me.ns) expect(liveness({ ...me, pid: deadPid(), ns: '1' })).toBe('hidden');
  });

  it.runIf(existsSync('/proc/sys/kernel/random/boot_id'))('judges a process of this boot under another host name as this machine\'s (a container has its own; a host is renamed)', () => {
    const me = thisProcess();
    expect(liveness({ ...me, host: 'container-1' })).toBe('alive');
    expect(liveness({ ...me, host: 'container-1', pid: deadPid() })).toBe('dead');
    if (me.ns) expect(liveness({ ...me, host: 'container-1', ns: '1' })).toBe('hidden');
    // With no pid namespace named (a lock of an older version), another host name may be another container's: its pid
    // means nothing here, and is never taken for a dead one.
    const { ns: _, ...withoutNs } = me;
    expect(liveness({ ...withoutNs, host: 'container-1', pid: deadPid() })).toBe('hidden');
  });

  it.runIf(existsSync('/proc/sys/kernel/random/boot_id'))('is dead for a process of an earlier boot, even with a live pid', () => {
    expect(isDead({ ...thisProcess(), boot: '00000000-0000-0000-0000-000000000000' })).toBe(true);
  });
});

describe('ownerName() and parseOwner()', () => {
  it('round-trip a process, and read the older form host:pid:boot:random', () => {
    const me = thisProcess();
    expect(parseOwner(ownerName(me, 'abc'))).toEqual(me);
    expect(parseOwner('host:12:boot-id:abc')).toEqual({ host: 'host', pid: 12, boot: 'boot-id' });
    for (const other of ['an owner some other store named', 'h:x:b:r', 'h:1:b:x:ns:r', 'h:1:b:2:3']) expect(parseOwner(other)).toBeUndefined();
  });
});

describe('FileQueueStorage.isGone()', () => {
  it.runIf(linux)('is true for a lease owner with this pid but an earlier start time, false for this handle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-owner-'));
    try {
      const storage = await new FileStore({ dir }).open('q');
      const me = thisProcess();
      expect(storage.isGone!(storage.owner!)).toBe(false);
      expect(storage.isGone!(ownerName({ ...me, start: me.start! - 1 }, 'abc'))).toBe(true);
      // Another container's process: its pid means nothing here, so its leases wait for their expiry.
      expect(storage.isGone!(ownerName({ ...me, pid: deadPid(), ns: '1' }, 'abc'))).toBe(false);
      await storage.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('leftover files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-left-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.runIf(linux)('of an earlier process with this pid are cleared; this process\'s stay', async () => {
    mkdirSync(join(dir, 'q'));
    const start = startOf(process.pid);
    const earlier = [`lock.${process.pid}_${start - 1}.0a.own`, `spare.${process.pid}_${start - 1}.0b.tmp`, `commits.${process.pid}_${start - 1}.0c.tmp`];
    const mine = [`lock.${process.pid}_${start}.0d.own`, `spare.${process.pid}_${start}.0e.tmp`];
    for (const name of [...earlier, ...mine]) writeFileSync(join(dir, 'q', name), '');
    const storage = await new FileStore({ dir }).open('q');
    const names = readdirSync(join(dir, 'q'));
    for (const name of earlier) expect(names).not.toContain(name);
    for (const name of mine) expect(names).toContain(name);
    await storage.close();
  });
  it('a directory named as a dead writer\'s file is left alone, and blocks no open', async () => {
    mkdirSync(join(dir, 'q'));
    const name = `spare.${deadPid()}_1.0b.tmp`;
    mkdirSync(join(dir, 'q', name));
    const storage = await new FileStore({ dir }).open('q');
    expect(readdirSync(join(dir, 'q'))).toContain(name);
    await storage.close();
  });

  it('an idle lock\'s offer left by a holder killed while it kept the lock is cleared', async () => {
    mkdirSync(join(dir, 'q'));
    // What a killed holder leaves: its lock content (cleared as a dead process's) and the offer linking to it.
    const content = join(dir, 'q', `lock.${deadPid()}_1.0a.own`);
    writeFileSync(content, 'dead');
    linkSync(content, join(dir, 'q', 'lock.idle'));
    const storage = await new FileStore({ dir }).open('q');
    expect(readdirSync(join(dir, 'q'))).not.toContain('lock.idle');
    await storage.close();
  });
});
