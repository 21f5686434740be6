import { counted, SluiceError } from '../../core/errors.js';
import type { CorruptDetail, RecoverDetail } from '../../core/events.js';
import type { TypedEventTarget } from '../../core/typed-events.js';
import type { CliIo } from './io.js';

/** The exit code of a command that found damage (and reported it) when `--accept-repairs` was not given. */
export const REPAIRED = 3;

/**
 * What the CLI tells of the repairs that opening (or reading) its queues made. The core repairs on open and stores the
 * repair, so the app's next open is told nothing: the CLI is then the only one that can say it, and says every
 * 'recover' and 'corrupt' event on stderr, one line each, for every queue it opens (dead letters included).
 */
export class DamageReport {
  readonly #io: CliIo;
  readonly #json: boolean;
  readonly #queues = new Set<string>();

  constructor(io: CliIo, json: boolean) {
    this.#io = io;
    this.#json = json;
  }

  /** The queues whose events were reported, in the order first reported. */
  get queues(): readonly string[] {
    return [...this.#queues];
  }

  /**
   * Reports `queue`'s events (or an outbox's, which tells its queues') from now on. Call it as soon as `open`
   * resolves: what open found is dispatched a tick later (see `Queue.open`), so a listener added before that tick
   * hears it; `settled` waits for that tick.
   */
  watch(queue: TypedEventTarget<{ recover: CustomEvent<RecoverDetail>; corrupt: CustomEvent<CorruptDetail> }>): void {
    queue.addEventListener('recover', (event) => this.#report('recover', event.detail));
    queue.addEventListener('corrupt', (event) => this.#report('corrupt', event.detail));
  }

  #report(type: 'recover' | 'corrupt', detail: RecoverDetail | CorruptDetail): void {
    this.#queues.add(detail.queue);
    this.#io.err(this.#json ? JSON.stringify({ [type]: detail }) : `sluice: ${type}: ${detail.queue}: ${type === 'recover' ? recoverText(detail as RecoverDetail) : corruptText(detail as CorruptDetail)}`);
  }

  /** A line of prose on stderr (skipped with --json, where the events and the exit code say it). */
  notice(text: string): void {
    if (!this.#json) this.#io.err(`sluice: ${text}`);
  }
}

/** Waits for the events a queue dispatches a tick after its open resolves (`Queue.open` holds them until then). */
export function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function recoverText(d: RecoverDetail): string {
  const again = !d.again ? '' : d.again[0] === d.again[1] ? '; no id is delivered again' : `; ids [${d.again[0]}, ${d.again[1]}) may be delivered again, acked ones included`;
  switch (d.kind) {
    case 'tail':
      return `tail: cut ${d.bytes} bytes at byte ${d.offset} of segment ${d.segment} (${d.corrupt ? 'damage: valid data followed' : 'a torn write'}).`;
    case 'meta':
      return `meta: the metadata failed its checksum and was rebuilt from the segments${again}.`;
    case 'meta-missing':
      return `meta-missing: the metadata was gone and was rebuilt from the segments${again}.`;
    case 'meta-damaged':
      return `meta-damaged: metadata records after a damaged one were dropped (acks and leases they held may be undone)${again}.`;
    case 'rollback':
      return `rollback: ids [${d.from}, ${d.to}) were (or, past what was recorded, may have been) given out and their items are gone: they are void, never handed out or reused.`;
    case 'floor':
      return `floor: the segments ended before the next id, ${d.segment}: an empty segment was written there, so that no id is given out twice.`;
  }
}

function corruptText(d: CorruptDetail): string {
  const n = d.lost.length;
  const where = d.reason === 'checksum' ? `segment ${d.segment} fails its checksum at byte ${d.offset}` : `segment ${d.segment}`;
  const action = d.action === 'skip' ? 'skipped: counted as lost' : 'reads fail with ERR_CORRUPT';
  return `${d.reason}: ${counted(n, 'unacked item')} lost (${n === 1 ? 'id' : 'ids'} ${ranges(d.lost)}), ${where}; ${action}.`;
}

/** Ids as runs: `3-7, 9` (all of them, however many: nothing lost goes unnamed). */
function ranges(ids: readonly string[]): string {
  const runs: string[] = [];
  let i = 0;
  while (i < ids.length) {
    let j = i;
    while (j + 1 < ids.length && Number(ids[j + 1]) === Number(ids[j]) + 1) j++;
    runs.push(j === i ? ids[i]! : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return runs.join(', ');
}

// The core's ERR_CORRUPT messages speak to an app ("Open the queue with corruption: 'skip'"); here the option is a flag.
const API_HINT = /Open the queue with corruption: 'skip'/;
const CLI_HINT = 'Run the command again with --corruption skip';

// The store's advice for a directory shared by a group: from the command line, taking that write away would take it
// from the app's processes too; the flag opens the queue as they do. (Others' write, 'o-w', is never meant: kept.)
const MODE_HINT = /Take the write permission away \(chmod g-w\), or share the queue on purpose with the FileStore option `mode` \(e\.g\. 0o660 for a group\)\./;
const CLI_MODE_HINT = 'If the queue is shared on purpose, give its mode as the app does: --mode 660 (a group), for one.';

/** `error` as the CLI prints it: an ERR_CORRUPT tells how to go on from the command line, as a shared queue's refusal does. */
export function forTheCommandLine(error: SluiceError, corruption: 'throw' | 'skip'): SluiceError {
  if (MODE_HINT.test(error.message)) return new SluiceError(error.code, error.message.replace(MODE_HINT, CLI_MODE_HINT), { cause: error });
  if (error.code !== 'ERR_CORRUPT' || corruption === 'skip') return error;
  const message = API_HINT.test(error.message)
    ? error.message.replace(API_HINT, CLI_HINT)
    : `${error.message} ${CLI_HINT} to count the items that cannot be read as lost and go on.`;
  return new SluiceError('ERR_CORRUPT', message, { cause: error });
}
