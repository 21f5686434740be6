import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SluiceError } from '../core/errors.js';
import { Queue } from '../core/queue.js';
import { Outbox } from '../outbox/outbox.js';
import { FileStore } from '../stores/fs/file-store.js';

const USAGE = `Usage: sluice <command> [options]

Inspect and repair the queues of a FileStore directory (default .sluice).

  ls                           every queue: size, leased, delayed, segments, bytes
  peek <queue> [--limit N]     unacked entries as JSON lines (id, state, attempts, value); leases nothing
  drain <queue> [--limit N]    takes entries, prints them as JSON lines, and acks them (removes them)
  clear <queue>                removes every entry
  dead <outbox> [list]         an outbox's dead letters as JSON lines
  dead <outbox> retry [ids…]   puts dead tasks (all, or those ids) back into the outbox
  dead <outbox> purge [ids…]   deletes dead letters (all, or those ids)

Options:
  --dir <path>                 the FileStore directory (default .sluice)
  --limit <n>                  at most n entries
  --help                       this text`;

/** Where the CLI writes; the process's streams by default. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const processIo: CliIo = { out: (line) => console.log(line), err: (line) => console.error(line) };

/** Runs the CLI on `argv` (without node and the script); resolves the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { dir: { type: 'string', default: '.sluice' }, limit: { type: 'string' }, help: { type: 'boolean' } },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, name, ...rest] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const dir = resolve(values.dir!);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    io.err(`--limit must be a whole number >= 0, got ${values.limit}.`);
    return 2;
  }
  const store = new FileStore({ dir });
  try {
    switch (command) {
      case 'ls':
        return await list(dir, store, io);
      case 'peek':
      case 'drain':
      case 'clear':
        if (!name) break;
        return await onQueue(command, name, store, limit, io);
      case 'dead':
        if (!name) break;
        return await dead(name, rest, store, limit, io);
    }
  } catch (error) {
    io.err(error instanceof SluiceError ? `${error.code}: ${error.message}` : String(error));
    return 1;
  }
  io.err(USAGE);
  return 2;
}

async function list(dir: string, store: FileStore, io: CliIo): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
  } catch {
    io.err(`No queues: ${dir} does not exist.`);
    return 1;
  }
  io.out(['queue', 'size', 'leased', 'delayed', 'segments', 'bytes'].join('\t'));
  for (const name of names.sort()) {
    const q = await Queue.open({ name, store });
    const s = await q.stats();
    await q.close();
    io.out([name, s.size, s.leased, s.delayed, s.segments, s.bytes].join('\t'));
  }
  return 0;
}

async function onQueue(command: 'peek' | 'drain' | 'clear', name: string, store: FileStore, limit: number | undefined, io: CliIo): Promise<number> {
  const q = await Queue.open<unknown>({ name, store });
  try {
    if (command === 'clear') {
      const size = await q.size();
      await q.clear();
      io.out(`Removed ${size} entries from ${name}.`);
    } else if (command === 'peek') {
      for (const e of await q.list(limit === undefined ? {} : { limit })) io.out(JSON.stringify(e));
    } else {
      let left = limit ?? Infinity;
      while (left > 0) {
        const lease = await q.take(Math.min(left, 100));
        if (!lease) break;
        for (const e of lease.entries) io.out(JSON.stringify(e));
        await lease.ack();
        left -= lease.entries.length;
      }
    }
    return 0;
  } finally {
    await q.close();
  }
}

async function dead(name: string, [action = 'list', ...ids]: string[], store: FileStore, limit: number | undefined, io: CliIo): Promise<number> {
  const outbox = await Outbox.open({ name, store });
  try {
    if (action === 'list') {
      for (const letter of await outbox.dead.list(limit === undefined ? {} : { limit })) io.out(JSON.stringify(letter));
    } else if (action === 'retry') {
      io.out(`Put ${await outbox.dead.retry(ids.length ? ids : undefined)} tasks back into ${name}.`);
    } else if (action === 'purge') {
      io.out(`Purged ${await outbox.dead.purge(ids.length ? ids : undefined)} dead letters of ${name}.`);
    } else {
      io.err(`Unknown dead-letter action "${action}": use list, retry or purge.`);
      return 2;
    }
    return 0;
  } finally {
    await outbox.close();
  }
}
