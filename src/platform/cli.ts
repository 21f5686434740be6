import { errno } from '../stores/fs/files.js';
import { type Command, type Invocation, parse, USAGE } from './cli/args.js';
import { context, type Context } from './cli/context.js';
import { REPAIRED } from './cli/damage.js';
import { dead } from './cli/dead.js';
import { failure } from './cli/failure.js';
import { type CliIo, printError } from './cli/io.js';
import { processIo } from './cli/output.js';
import { clear, drain, ls, peek, stats } from './cli/queues.js';
import { VERSION } from './cli/version.js';

export type { CliIo } from './cli/io.js';

// Exit codes: 0 done; 1 the operation failed (a write to stdout too); 2 the command could not be understood or names
// nothing there; 3 (REPAIRED) a queue needed repair or lost items, reported on stderr, and --accept-repairs was not
// given.
const FAILED = 1;
const USAGE_ERROR = 2;

/** Runs the CLI on `argv` (without node and the script); resolves the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let invocation: Invocation;
  let ctx: Context | undefined;
  try {
    invocation = parse(argv);
    // The store checks --dir as it is made (an empty one, say): a bad option, like the parser's.
    if (!told(invocation.command)) ctx = context(io, invocation);
  } catch (error) {
    const json = argv.includes('--json');
    printError(io, failure(error, 'throw'), json);
    if (!json) io.err(`\n${USAGE}`);
    return USAGE_ERROR;
  }
  const { command, json } = invocation;
  try {
    // A context is made for every command but those told.
    const code = told(command) ? tell(io, command, json) : await run(ctx!, command);
    // What was printed is written, or the exit code says it was not.
    await io.written?.();
    return ctx ? repaired(ctx, code) : code;
  } catch (error) {
    const fault = failure(error, invocation.corruption);
    // The change was made, and only the line saying so failed: said here, or exit 1 reads as "nothing changed".
    if (ctx?.changed) fault.message += ` The command's change is made all the same: ${ctx.changed}`;
    // A reader that stops early (`sluice ls | head -1`) is no fault of a command that changed nothing: as other Unix
    // tools do, it ends without a word (but not with 0: the output was cut).
    if (!(readOnly(command) && errno(fault.cause) === 'EPIPE')) printError(io, fault, json);
    // A queue or directory that is not there, or a name that cannot be one, is a mistake in the command line.
    return fault.code === 'ERR_NOT_FOUND' || fault.code === 'ERR_INVALID_NAME' ? USAGE_ERROR : FAILED;
  }
}

/** `help` and `--version`: told without opening anything. */
function told(command: Command): command is Extract<Command, { name: 'help' | 'version' }> {
  return command.name === 'help' || command.name === 'version';
}

function tell(io: CliIo, command: Extract<Command, { name: 'help' | 'version' }>, json: boolean): number {
  if (command.name === 'help') io.out(USAGE);
  else io.out(json ? JSON.stringify({ version: VERSION }) : VERSION);
  return 0;
}

/** `code`, or REPAIRED when the command went well but a queue needed repair and --accept-repairs was not given. */
function repaired(ctx: Context, code: number): number {
  const damaged = ctx.damage.queues;
  if (code !== 0 || damaged.length === 0 || ctx.acceptRepairs) return code;
  ctx.damage.notice(`${damaged.join(', ')} needed repair or lost items (above); the repair is stored. Exit code ${REPAIRED}: pass --accept-repairs to accept it.`);
  return REPAIRED;
}

function readOnly(command: Command): boolean {
  return command.name !== 'drain' && command.name !== 'clear' && !(command.name === 'dead' && command.action !== 'list');
}

function run(ctx: Context, command: Exclude<Command, { name: 'help' | 'version' }>): Promise<number> {
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
