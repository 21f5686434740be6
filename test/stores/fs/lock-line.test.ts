import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { LockFiles } from '../../../src/stores/fs/lock-files.js';
import { LockLine } from '../../../src/stores/fs/lock-line.js';
import { ProcessLock } from '../../../src/stores/fs/lock.js';
import { thisProcess } from '../../../src/stores/fs/process-id.js';
import { tempQueueDir } from './queue-dir.js';

// The line of waiters for a queue directory's lock: first come, first served; tickets of the dead cleared.
const { file, open } = tempQueueDir('sluice-line-');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const startOf = (pid: number) => {
  if (!existsSync(`/proc/${pid}/stat`)) return undefined;
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
};
/** A lock file or ticket naming `holder`, linked under `name`. */
const plant = (name: string, holder: object) => {
  const content = file(`planted.${name}.content`);
  writeFileSync(content, JSON.stringify(holder));
  linkSync(content, file(name));
};
const tickets = () => readdirSync(file()).filter((name) => name.endsWith('.wait'));

describe('the line of waiters', () => {
  it('is first come, first served: only the earliest ticket is first, then the next once it leaves', async () => {
    const lines = [0, 1, 2].map(() => new LockLine(file(), new LockFiles(file(), 10_000, 0o600)));
    for (const line of lines) {
      line.join();
      await sleep(2);
    }
    expect(lines.map((line) => line.first(false))).toEqual([true, false, false]);
    lines[0]!.leave();
    expect(lines.map((line) => line.first(false))).toEqual([true, true, false]);
    // Joining again keeps the ticket it has: its place in the line.
    lines[2]!.join();
    lines[1]!.leave();
    expect(lines[2]!.first(false)).toBe(true);
    lines[2]!.leave();
    expect(tickets()).toEqual([]);
  });

  // Before, tickets of one millisecond went by random digits in their names: waiters of one process that came in the
  // same millisecond (timers that fire together on a loaded machine) were served in any order.
  it('is first come, first served within a millisecond: the tickets of one process go in the order taken', () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.now());
    try {
      const lines = Array.from({ length: 8 }, () => new LockLine(file(), new LockFiles(file(), 10_000, 0o600)));
      for (const line of lines) line.join();
      for (let i = 0; i < lines.length; i++) {
        expect(lines.map((line) => line.first(false))).toEqual(lines.map((_, j) => j <= i));
        lines[i]!.leave();
      }
      expect(tickets()).toEqual([]);
    } finally {
      now.mockRestore();
    }
  });

  it('hands the lock on in the order the waiters came, whoever wakes first', async () => {
    for (let round = 0; round < 3; round++) {
      const locks = Array.from({ length: 4 }, () => new ProcessLock(file(), 10_000, 10_000, 0o600));
      try {
        const order: number[] = [];
        await locks[0]!.acquire();
        // 1, 2 and 3 come in that order while 0 holds the lock; each takes it, holds it a moment, gives it up.
        const waiting = [1, 2, 3].map(async (i) => {
          await sleep(10 * i);
          await locks[i]!.acquire();
          order.push(i);
          await sleep(1);
          locks[i]!.release();
        });
        await sleep(50);
        locks[0]!.release();
        await Promise.all(waiting);
        expect(order).toEqual([1, 2, 3]);
        expect(tickets()).toEqual([]);
      } finally {
        for (const lock of locks) lock.dispose();
      }
    }
  });

  /**
   * A live child holds the lock and a dead process's ticket stands first in line: `lock` waits, `look` checks on it
   * (given the dead pid), then the holder dies and `lock` must take the lock over.
   */
  const behindADeadTicket = async (lock: ProcessLock, look: (dead: number) => Promise<void>) => {
    const dead = Number(String(spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout).trim());
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    let taken: Promise<string> | undefined;
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      plant('lock', { ...thisProcess(), pid: child.pid, start: startOf(child.pid!) });
      plant(`lock.${dead}.00000000.1.wait`, { ...thisProcess(), pid: dead });
      taken = lock.acquire();
      await look(dead);
      child.kill('SIGKILL');
      expect(await taken).toBe('stolen');
    } finally {
      child.kill('SIGKILL');
      // A failed check leaves the wait going: it ends (taking the dead child's lock) before the directory goes.
      await taken?.catch(() => undefined);
      lock.dispose();
    }
  };
  const ticketOf = (pid: number) => tickets().some((name) => name.startsWith(`lock.${pid}.`));

  it('a ticket whose holder died is removed by the waiter behind it, which goes next', async () => {
    await behindADeadTicket(new ProcessLock(file(), 10_000, 10_000, 0o600), async (dead) => {
      // Waited for rather than slept on: a loaded machine can delay the waiter's looks well past any fixed time.
      await vi.waitFor(() => expect(ticketOf(dead)).toBe(false), { timeout: 5_000 });
      // It claimed the turn, and takes the lock once it is given up.
      await vi.waitFor(() => expect(existsSync(file('lock.turn'))).toBe(true), { timeout: 5_000 });
    });
  });

  it('a waiter whose looks come late still clears a dead ticket ahead before it takes the turn', async () => {
    // Each look sees 20 ms pass: the free turn has lain past the time it is kept to a waiter ahead by the second look.
    let late = performance.now();
    await behindADeadTicket(new ProcessLock(file(), 10_000, 10_000, 0o600, () => (late += 20)), async (dead) => {
      await vi.waitFor(() => expect(existsSync(file('lock.turn'))).toBe(true), { timeout: 5_000 });
      expect(ticketOf(dead)).toBe(false);
    });
  });

  it('a live waiter ahead that lets the free turn lie is passed over', async () => {
    const children = [0, 1].map(() => spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' }));
    const lock = new ProcessLock(file(), 10_000, 10_000, 0o600);
    try {
      await Promise.all(children.map((child) => new Promise((resolve) => child.once('spawn', resolve))));
      const [holder, ahead] = children.map((child) => ({ ...thisProcess(), pid: child.pid, start: startOf(child.pid!) }));
      plant('lock', holder!);
      plant(`lock.${ahead!.pid}.00000000.1.wait`, ahead!);
      const taken = lock.acquire();
      await sleep(20);
      // The holder gives the lock up; the waiter ahead (alive, but not watching) never claims the turn.
      unlinkSync(file('lock'));
      expect(await taken).toBe('taken');
      // Its ticket stays: it is the live waiter's to give up.
      expect(tickets()).toEqual([`lock.${ahead!.pid}.00000000.1.wait`]);
      lock.release();
    } finally {
      lock.dispose();
      for (const child of children) child.kill('SIGKILL');
    }
  });

  it('tickets of processes that died are cleared when a queue opens', async () => {
    const dead = Number(String(spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout).trim());
    plant(`lock.${dead}.0a0b0c0d.1700000000000.wait`, { ...thisProcess(), pid: dead });
    await open();
    expect(tickets()).toEqual([]);
  });
});
