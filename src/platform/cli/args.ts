import { parseArgs } from 'node:util';
import { SluiceError } from '../../core/errors.js';
import { checkMode } from '../../stores/fs/permissions.js';

export const USAGE = `Usage: sluice <command> [options]

Inspect and repair the queues of a FileStore directory. Nothing is ever created: a missing directory or queue
is an error.

Commands:
  help                             this text (as --help)
  ls                               every queue: kind, size, leased, delayed, segments, bytes, oldest item's age
  stats <queue>                    one queue's size, leased, delayed, segments, bytes and oldest item's age
  peek <queue> [--limit N]         the first N unacked entries (default 20) with state and attempts; leases nothing
  drain <queue> [--limit N]        takes entries (all, or N), prints them, and acks each batch once written
  clear <queue>                    removes every entry
  dead <outbox> [list] [--limit N] the outbox's dead letters, oldest first
  dead <outbox> retry [ids...]     puts dead tasks (all but superseded, or those ids) back into the outbox
  dead <outbox> purge <ids...>     deletes those dead letters
  dead <outbox> purge --all        deletes every dead letter
                                   ids: task ids (as dead list and the outbox's events show them) or entry ids

Options:
  --dir <path>          the FileStore directory (default .sluice)
  --limit <n>           at most n entries
  --all                 dead purge: every dead letter (never implied by no ids: an empty $IDS would purge all)
  --json                JSON for scripts: one object per line on stdout; on stderr, errors as {"error":{code,message}}
                        and repairs as {"recover":detail} or {"corrupt":detail}
  --corruption <mode>   throw (default): items that cannot be read fail the command (ERR_CORRUPT);
                        skip: they are counted as lost, and named
  --accept-repairs      go on past repairs and losses (still reported), and exit 0
  --mode <octal>        the FileStore's mode, as the app gives it (e.g. 660 for a queue shared by a group; default 600)
  --ordering <o>        dead retry: the outbox's ordering, as the app opens it (group, fifo or none; default group):
                        on a partitioned outbox, retried tasks are placed by it
  -h, --help            this text
  --version             sluice's version

Opening a queue repairs what it finds (a missing or damaged meta file, a torn tail, items gone): every command,
read-only ones included, reports each repair and loss on stderr, one line each. drain, clear and dead retry|purge
then change nothing, unless --accept-repairs.

Exit codes: 0 done; 1 failed (unknown ids, a locked or damaged queue, stdout not written); 2 usage error, or no such
directory or queue; 3 done, but a queue needed repair or lost items (reported on stderr; not with --accept-repairs).`;

export type Command =
  | { readonly name: 'help' | 'version' }
  | { readonly name: 'ls' }
  | { readonly name: 'stats' | 'clear'; readonly queue: string }
  | { readonly name: 'peek'; readonly queue: string; readonly limit: number }
  | { readonly name: 'drain'; readonly queue: string; readonly limit: number | undefined }
  | { readonly name: 'dead'; readonly outbox: string; readonly action: 'list'; readonly limit: number | undefined }
  | { readonly name: 'dead'; readonly outbox: string; readonly action: 'retry' | 'purge'; readonly ids: readonly string[] };

export interface Invocation {
  readonly command: Command;
  /** The FileStore directory, as given (resolved by the store). */
  readonly dir: string;
  /** The FileStore's `mode` (--mode); undefined: its default. */
  readonly mode?: number;
  /** The outbox's `ordering` for `dead` (--ordering); undefined: its default. */
  readonly ordering?: 'group' | 'fifo' | 'none';
  readonly json: boolean;
  /** The queues' `corruption` option. */
  readonly corruption: 'throw' | 'skip';
  readonly acceptRepairs: boolean;
}

const PEEK_LIMIT = 20;

function usage(message: string): never {
  throw new SluiceError('ERR_INVALID_OPTION', message);
}

/**
 * `--limit -1` as `--limit=-1`: node:util takes a value that starts with a dash for a flag, and says so in words of
 * its own ("ambiguous"); joined, the value gets the same check, and message, as `--limit abc`.
 */
function joinNegatives(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (/^--(?:limit|dir|corruption|mode)$/.test(arg) && next !== undefined && /^-\d/.test(next)) out.push(`${arg}=${argv[++i]}`);
    else out.push(arg);
  }
  return out;
}

/** Reads the command line; a usage error is a SluiceError 'ERR_INVALID_OPTION' saying what was wrong. */
export function parse(argv: readonly string[]): Invocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegatives(argv),
      allowPositionals: true,
      tokens: true,
      options: {
        dir: { type: 'string', default: '.sluice' },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        corruption: { type: 'string', default: 'throw' },
        'accept-repairs': { type: 'boolean', default: false },
        mode: { type: 'string' },
        ordering: { type: 'string' },
        all: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    // node:util's own messages name the flag; for an unknown one it goes on about positionals after '--', which
    // tells someone who typed `-v` or `--queue` nothing: name the flags there are instead.
    const unknown = (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'([^']+)'/.exec((error as Error).message);
    if (unknown) usage(`Unknown option "${unknown[1]}": the options are --dir, --limit, --json, --corruption, --accept-repairs, --mode, --ordering, --all, -h/--help and --version.`);
    usage((error as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  // node:util keeps the last of an option given twice: `clear jobs --dir a --dir b` would clear b's, whichever was meant.
  for (const option of ['dir', 'limit', 'corruption', 'mode', 'ordering']) {
    const given = [...new Set(tokens.flatMap((t) => (t.kind === 'option' && t.name === option ? [t.value] : [])))];
    if (given.length > 1) usage(`--${option} is given more than once, with different values (${given.map((v) => JSON.stringify(v)).join(', ')}): give it once.`);
  }
  const { corruption } = values;
  // `help` is --help as a command (what `git help` and `npm help` taught), whatever follows it; either wins over --version.
  const asked = values.help || positionals[0] === 'help' ? 'help' : values.version ? 'version' : undefined;
  if (asked) return { command: { name: asked }, dir: values.dir, json: values.json, corruption: 'throw', acceptRepairs: false };
  if (values.dir === '') usage('--dir must name a directory, got "".');
  if (corruption !== 'throw' && corruption !== 'skip') usage(`--corruption must be "throw" or "skip", got "${corruption}".`);
  const mode = values.mode === undefined ? undefined : octal(values.mode);
  const { ordering } = values;
  if (ordering !== undefined && ordering !== 'group' && ordering !== 'fifo' && ordering !== 'none') usage(`--ordering must be "group", "fifo" or "none", got "${ordering}".`);
  if (ordering !== undefined && positionals[0] !== 'dead') usage('--ordering applies to dead <outbox> only.');
  const invocation = (command: Command): Invocation => ({
    command,
    dir: values.dir,
    json: values.json,
    corruption,
    acceptRepairs: values['accept-repairs'],
    ...(mode !== undefined && { mode }),
    ...(ordering !== undefined && { ordering }),
  });
  const limit = values.limit === undefined ? undefined : whole('--limit', values.limit);
  const [name, target, ...rest] = positionals;
  const takes = (count: number, what: string) => {
    if (positionals.length - 1 < count) usage(`${name} needs ${what}.`);
    if (positionals.length - 1 > count) usage(`${name} takes ${count === 0 ? 'no arguments' : `${what} only`}; unexpected "${positionals[count + 1]}".`);
  };
  const noLimit = () => {
    if (limit !== undefined) usage(`--limit does not apply to ${name}.`);
  };
  const purge = name === 'dead' && rest[0] === 'purge';
  if (values.all && !purge) usage('--all applies to dead <outbox> purge only.');
  switch (name) {
    case undefined:
      return usage('Missing command.');
    case 'ls':
      takes(0, 'no arguments');
      noLimit();
      return invocation({ name });
    case 'stats':
    case 'clear':
      takes(1, 'a queue name');
      noLimit();
      return invocation({ name, queue: target! });
    case 'peek':
      takes(1, 'a queue name');
      return invocation({ name, queue: target!, limit: limit ?? PEEK_LIMIT });
    case 'drain':
      takes(1, 'a queue name');
      return invocation({ name, queue: target!, limit });
    case 'dead': {
      if (target === undefined) usage('dead needs an outbox name.');
      const [action = 'list', ...ids] = rest;
      if (action === 'list') {
        if (ids.length > 0) usage(`dead list takes no ids; unexpected "${ids[0]}".`);
        return invocation({ name, outbox: target, action, limit });
      }
      if (action !== 'retry' && action !== 'purge') usage(`Unknown dead-letter action "${action}": use list, retry or purge.`);
      noLimit();
      // Deleting is for good: every letter only when asked in so many words, never for want of ids (an empty list).
      if (purge && ids.length === 0 && !values.all) usage('dead purge needs the ids of the letters to delete, or --all to delete every one.');
      if (purge && ids.length > 0 && values.all) usage('dead purge takes ids or --all, not both.');
      return invocation({ name, outbox: target, action, ids });
    }
    default:
      return usage(`Unknown command "${name}".`);
  }
}

/** `--mode`: octal permission bits, as chmod takes them (660, 0660 or 0o660). */
function octal(text: string): number {
  const digits = /^(?:0o?)?([0-7]{3})$/i.exec(text)?.[1];
  if (digits === undefined) usage(`--mode must be octal permission bits such as 600 or 660, got "${text}".`);
  const mode = parseInt(digits, 8);
  try {
    checkMode(mode);
  } catch {
    // The FileStore's rule, said in the command line's terms: the mode as typed, not its value in decimal.
    usage(`--mode must give the owner read and write and no one execute (such as 600, 640, 660, 644 or 666), got "${text}".`);
  }
  return mode;
}

function whole(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) usage(`${flag} must be a whole number >= 0, got "${text}".`);
  return value;
}
