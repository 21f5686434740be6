import { spawn } from 'node:child_process';
import type { CorruptDetail, RecoverDetail } from '../../src/index.js';
import type { Ledger } from './ledger.js';
import type { Random } from './random.js';

/**
 * The 'sigkill' fault: a process (`child.mjs`) pushes, takes and acks on the queue in `root`, and is killed with
 * SIGKILL inside its `hangAt`-th fsync, holding the lock with a commit half done. What it printed before dying goes
 * into the ledger: pushes and acks that resolved count, those it started may or may not have happened.
 */
export async function runChild(script: string, root: string, segmentItems: number, random: Random, ledger: Ledger, next: () => number): Promise<void> {
  const ops: unknown[] = [];
  const started: number[] = [];
  for (let i = random.int(2, 4); i > 0; i--) {
    const kind = random.weighted({ push: 2, pushMany: 1, take: 2 });
    if (kind === 'take') ops.push(['take', random.int(1, 6), random.int(1, 3)]);
    else {
      const values = Array.from({ length: random.int(1, 5) }, next);
      started.push(...values);
      ops.push([kind, values]);
    }
  }
  const hangAt = random.int(1, 8);
  ledger.note(`FAULT sigkill: a process runs ${JSON.stringify(ops)} and is killed inside its fsync #${hangAt}`);
  const lines = await new Promise<string[]>((resolve) => {
    const proc = spawn(process.execPath, [script, root, String(hangAt), String(segmentItems), JSON.stringify(ops)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.stdout.on('data', (d: Buffer) => {
      out += String(d);
      if (/^hang$/m.test(out)) proc.kill('SIGKILL');
    });
    proc.stderr.on('data', (d: Buffer) => (err += String(d)));
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (err) ledger.note(`child stderr: ${err.trim()}`);
      ledger.note(`child ended (${signal ?? `exit ${code}`})`);
      resolve(out.split('\n').filter(Boolean));
    });
  });
  const pushed = new Set<number>();
  const acking = new Set<number>();
  for (const line of lines) {
    const [word, rest = ''] = line.split(/ (.*)/s);
    ledger.note(`child: ${line}`);
    if (word === 'pushed') {
      pushed.add(Number(rest));
      ledger.pushResolved([Number(rest)]);
    } else if (word === 'taken') {
      const [value, id] = rest.split(' ');
      ledger.taken([{ id: id!, value: Number(value) }], 'child');
    } else if (word === 'acking') acking.add(Number(rest));
    else if (word === 'acked') {
      acking.delete(Number(rest));
      ledger.ackResolved([Number(rest)]);
    } else if (word === 'event') {
      const { type, ...detail } = JSON.parse(rest) as { type: string };
      if (type === 'corrupt') ledger.corrupt(detail as CorruptDetail, 'child');
      else ledger.recover(detail as RecoverDetail, 'child');
    }
  }
  ledger.pushFailed(started.filter((v) => !pushed.has(v)));
  ledger.ackFailed([...acking]);
}
