import { SluiceError } from '../core/errors.js';
import { errno } from '../stores/fs/files.js';
import { type Command, parse, USAGE } from './cli/args.js';
import { context, type Context } from './cli/context.js';
import { forTheCommandLine, REPAIRED } from './cli/damage.js';
import { dead } from './cli/dead.js';
import { type CliIo, printError, processIo } from './cli/io.js';
import { clear, drain, ls, peek, stats } from './cli/queues.js';

export type { CliIo } from './cli/io.js';

// Exit codes: 0 done; 1 the operation failed; 2 the command could not be understood or names nothing there; 3
// (REPAIRED) a queue needed repair or lost items, reported on stderr, and --accept-repairs was not given.
const FAILED = 1;
const USAGE_ERROR = 2;

/** Runs the CLI on `argv` (without node and the script); resolves the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let invocation;
  try {
    invocation = parse(argv);
  } catch (error) {
    const json = argv.includes('--json');
    printError(io, error as SluiceError, json);
    if (!json) io.err(`\n${USAGE}`);
    return USAGE_ERROR;
  }
  if (invocation.command.name === 'help') {
    io.out(USAGE);
    return 0;
  }
  const { dir, json, corruption, acceptRepairs } = invocation;
  const ctx = context(io, { dir, json, corruption, acceptRepairs });
  try {
    const code = await run(ctx, invocation.command);
    const damaged = ctx.damage.queues;
    if (code !== 0 || damaged.length === 0 || acceptRepairs) return code;
    ctx.damage.notice(`${damaged.join(', ')} needed repair or lost items (above); the repair is stored. Exit code ${REPAIRED}: pass --accept-repairs to accept it.`);
    return REPAIRED;
  } catch (error) {
    const failure = forTheCommandLine(asSluiceError(error), ctx.corruption);
    printError(io, failure, ctx.json);
    // A queue or directory that is not there, or a name that cannot be one, is a mistake in the command line.
    return failure.code === 'ERR_NOT_FOUND' || failure.code === 'ERR_INVALID_NAME' ? USAGE_ERROR : FAILED;
  }
}

function run(ctx: Context, command: Exclude<Command, { name: 'help' }>): Promise<number> {
  switch (command.name) {
    case 'ls':
      return ls(ctx);
    case 'stats':
      return stats(ctx, command.queue);
    case 'peek':
      return peek(ctx, command.queue, command.limit);
    case 'drain':
      return drain(ctx, command.queue, command.limit);
    case 'clear':
      return clear(ctx, command.queue);
    case 'dead':
      return dead(ctx, command.outbox, command);
  }
}

/** File system errors from the CLI's own reads become SluiceErrors like the store's; anything else is a bug. */
function asSluiceError(error: unknown): SluiceError {
  if (error instanceof SluiceError) return error;
  if (errno(error)) return new SluiceError('ERR_STORAGE', `File storage failed (${errno(error)}): ${(error as Error).message}`, { cause: error });
  throw error;
}
