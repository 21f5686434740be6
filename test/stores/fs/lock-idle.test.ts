import { execSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, renameSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Queue } from '../../../src/index.js';
import { FileStore } from '../../../src/fs.js';
import { IdleOffer } from '../../../src/stores/fs/lock-idle.js';
import { LockFiles } from '../../../src/stores/fs/lock-files.js';
import { ProcessLock } from '../../../src/stores/fs/lock.js';
import { deferred } from '../../conformance/harness.js';
import { tempQueueDir } from './queue-dir.js';

// A lock kept between two commits, and offered to the waiters meanwhile: only one of the holder (taking it back) and
// the waiter (taking it over) gets it.
const { file, root } = tempQueueDir('sluice-idle-');
const handle = () => {
  const files = new LockFiles(file(), 10_000, 0o600);
  return { files, offer: new IdleOffer(file(), files) };
};
/** A handle holding the lock and one waiting for it, with the lock's inode. */
const holderAndWaiter = () => {
  const holder = handle();
  const waiter = handle();
  holder.files.link(file('lock'));
  return { holder, waiter, held: lstatSync(file('lock')).ino };
};

describe('IdleOffer', () => {
  it('a waiter takes over a lock offered a slice ago; the holder then knows it is no longer its own', () => {
    const { holder, waiter, held } = holderAndWaiter();
    expect(holder.offer.offer()).toBe(true);
    expect(waiter.offer.claim(held, 0, 10)).toBe(10);
    expect(waiter.offer.claim(held, 6, 10)).toBe(4);
    expect(waiter.offer.claim(held, 10, 10)).toBe('claimed');
    expect(waiter.files.holds(file('lock'))).toBe(true);
    expect(holder.offer.withdraw()).toBe(false);
    // Nothing left behind but the two handles' contents and the lock.
    expect(readdirSync(file()).filter((name) => !name.endsWith('.own'))).toEqual(['lock']);
  });

  it('a holder that takes its offer back first keeps the lock; the waiter finds nothing to claim', () => {
    const { holder, waiter, held } = holderAndWaiter();
    holder.offer.offer();
    expect(waiter.offer.claim(held, 0, 10)).toBe(10);
    expect(holder.offer.withdraw()).toBe(true);
    expect(waiter.offer.claim(held, 20, 10)).toBeUndefined();
    expect(holder.files.holds(file('lock'))).toBe(true);
    expect(existsSync(file('lock.idle'))).toBe(false);
  });

  it('an offer made again (the holder committed between) is timed afresh', () => {
    const { holder, waiter, held } = holderAndWaiter();
    holder.offer.offer();
    expect(waiter.offer.claim(held, 0, 10)).toBe(10);
    holder.offer.withdraw();
    holder.offer.offer();
    expect(waiter.offer.claim(held, 8, 10)).toBe(10);
    expect(waiter.offer.claim(held, 18, 10)).toBe('claimed');
  });

  it('clearing leftovers removes an offer of another lock than the current one, and keeps the current one', () => {
    const { holder, waiter } = holderAndWaiter();
    holder.offer.offer();
    IdleOffer.removeStale(file());
    expect(holder.files.holds(file('lock.idle'))).toBe(true);
    // The lock changed hands, and the offer stayed behind (its holder was killed while it kept the lock).
    holder.files.drop(file('lock'));
    waiter.files.link(file('lock'));
    IdleOffer.removeStale(file());
    expect(existsSync(file('lock.idle'))).toBe(false);
    expect(waiter.files.holds(file('lock'))).toBe(true);
    waiter.files.drop(file('lock'));
  });

  it('an offer left by an earlier holder offers nothing, and the next holder replaces it', () => {
    const { holder, waiter, held } = holderAndWaiter();
    handle().files.link(file('lock.idle'));
    expect(waiter.offer.claim(held, 0, 10)).toBeUndefined();
    expect(waiter.offer.claim(held, 100, 10)).toBeUndefined();
    expect(holder.files.holds(file('lock'))).toBe(true);
    expect(holder.offer.offer()).toBe(true);
    expect(holder.files.holds(file('lock.idle'))).toBe(true);
  });
});

describe('a waiter killed between claiming the offer and taking the lock over', () => {
  const deadPid = () => Number(String(spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout).trim());

  it('leaves the lock to its holder, which uses it at once instead of waiting for itself', async () => {
    const lock = new ProcessLock(file(), 0, 10_000, 0o600);
    try {
      await lock.acquire();
      lock.keep();
      // The claim, set aside under the name of a process that is gone.
      renameSync(file('lock.idle'), file(`lock.${deadPid()}.0badc1a1.tmp`));
      expect(await lock.acquire()).toBe('kept');
      lock.release();
      expect(existsSync(file('lock'))).toBe(false);
    } finally {
      lock.dispose();
    }
  });

  it('but a live claimer is left to replace the lock file', () => {
    const { holder, waiter } = holderAndWaiter();
    holder.offer.offer();
    renameSync(file('lock.idle'), file(waiter.files.name('tmp')));
    expect(holder.offer.withdraw()).toBe(false);
    expect(holder.offer.takenOver()).toBe(true);
  });
});

describe('a consumer that computes between its take and its ack', () => {
  beforeAll(() => {
    if (!existsSync('dist/fs.js')) execSync('npm run build', { stdio: 'ignore' });
  });

  it('holds up no other process past a slice, and its ack waits its turn', async () => {
    // One strict push's sync, when asked, holds up until released: its commit holds the lock meanwhile.
    const entered = deferred();
    const released = deferred();
    let hold = false;
    const fdatasync = async () => {
      if (!hold) return;
      hold = false;
      entered.resolve();
      await released.promise;
    };
    const store = new FileStore({ dir: root(), lockTimeoutMs: 1_000, sync: { fsync: async () => undefined, fdatasync } });
    const q = await Queue.open<number>({ name: 'q', store, durability: 'strict' });
    await q.pushMany(Array.from({ length: 20 }, (_, i) => i));
    // The child's take waits for this push, whose sync holds the lock: its first hold after that wait is kept for the
    // ack that follows, and it then computes for 2 s without letting its task end.
    const source = `
      import { writeSync } from 'node:fs';
      import { Queue } from '${process.cwd()}/dist/index.js';
      import { FileStore } from '${process.cwd()}/dist/fs.js';
      const q = await Queue.open({ name: 'q', store: new FileStore({ dir: process.argv[1] }) });
      writeSync(1, 'open\\n');
      process.stdin.once('data', async () => {
        const lease = await q.take(10);
        writeSync(1, 'computing ' + JSON.stringify(lease.entries.map((e) => e.value)) + '\\n');
        const end = Date.now() + 2000;
        while (Date.now() < end);
        await lease.ack();
        writeSync(1, 'acked\\n');
        await q.close();
        process.exit(0);
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', source, root()], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += String(d)));
      const line = async (prefix: string) => {
        for (;;) {
          const found = out.split('\n').find((l) => l.startsWith(prefix));
          if (found) return found;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      await line('open');
      hold = true;
      const blocking = q.push(20);
      await entered.promise;
      child.stdin.write('go\n');
      await new Promise((resolve) => setTimeout(resolve, 50));
      released.resolve();
      await blocking;
      const taken = JSON.parse((await line('computing')).slice('computing '.length)) as number[];
      expect(taken).toHaveLength(10);
      // While the child computes: these pushes wait a slice at most, not 2 s (1 s: ERR_LOCKED).
      const started = Date.now();
      await q.push(21);
      await q.push(22);
      expect(Date.now() - started).toBeLessThan(900);
      await line('acked');
      const left = (await q.list()).map((e) => e.value);
      expect(left).toEqual(Array.from({ length: 23 }, (_, i) => i).filter((v) => !taken.includes(v)));
    } finally {
      child.kill('SIGKILL');
      await q.close();
    }
  }, 30_000);

  it('taken over again and again, four consumers ack each item exactly once, and leave no lock file behind', async () => {
    const q = await Queue.open<number>({ name: 'q', store: new FileStore({ dir: root() }) });
    await q.pushMany(Array.from({ length: 800 }, (_, i) => i));
    await q.close();
    // Each computes 5–25 ms between a take and its ack: most kept locks are taken over, some taken back.
    const source = `
      import { Queue } from '${process.cwd()}/dist/index.js';
      import { FileStore } from '${process.cwd()}/dist/fs.js';
      const q = await Queue.open({ name: 'q', store: new FileStore({ dir: process.argv[1], lockTimeoutMs: 5000 }), leaseMs: 600000 });
      const acked = [];
      for (;;) {
        const lease = await q.take(20);
        if (!lease) {
          if ((await q.size()) === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 2));
          continue;
        }
        const end = performance.now() + 5 + Math.random() * 20;
        while (performance.now() < end);
        await lease.ack();
        acked.push(...lease.entries.map((e) => e.value));
      }
      await q.close();
      console.log(JSON.stringify(acked));`;
    const runs = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', source, root()], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += String(d)));
      return new Promise<number[]>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`exit ${code}`)))));
    });
    const acked = (await Promise.all(runs)).flat().sort((a, b) => a - b);
    expect(acked).toEqual(Array.from({ length: 800 }, (_, i) => i));
    expect(readdirSync(file()).filter((name) => name.startsWith('lock'))).toEqual([]);
  }, 60_000);
});
