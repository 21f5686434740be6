import { fstatSync, statSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { errno } from '../../stores/fs/files.js';
import type { CliIo } from './io.js';

/**
 * The process's streams as the CLI's output. A write to stdout can fail after `write` returned (a reader that went
 * away: EPIPE; a full disk): the failure comes in the write's callback and as an 'error' event, and `written` is where
 * the CLI hears of it, before it acks what it printed.
 */
export function processIo(): CliIo {
  const stdout = new Lines(process.stdout, 'stdout');
  // Nowhere is left to tell of a failing stderr: its errors are only kept from crashing the process.
  process.stderr.on('error', () => {});
  return {
    out: (line) => stdout.write(line),
    err: (line) => void process.stderr.write(`${line}\n`),
    written: () => stdout.written(),
    nowhere: () => nullDevice(1),
    progress: process.stderr,
  };
}

/**
 * Whether file descriptor `fd` is the null device: redirected there, or closed when the process started (Node opens
 * the null device in its place), so that every write "succeeds" and is lost.
 */
function nullDevice(fd: number): boolean {
  try {
    const [stream, nothing] = [fstatSync(fd), statSync('/dev/null')];
    return stream.isCharacterDevice() && stream.rdev === nothing.rdev;
  } catch {
    // No /dev/null (Windows): never refused.
    return false;
  }
}

/** Lines written to a stream, with its first write error kept for `written`. */
class Lines {
  readonly #stream: NodeJS.WritableStream;
  readonly #name: string;
  #error: unknown;
  #last: Promise<void> = Promise.resolve();

  constructor(stream: NodeJS.WritableStream, name: string) {
    this.#stream = stream;
    this.#name = name;
    // Without a listener a failed write is an uncaught 'error' event: a crash with a stack trace.
    stream.on('error', (error) => this.#failed(error));
  }

  write(line: string): void {
    // A failed stream takes nothing more; the lines are lost, and `written` says so.
    if (this.#error !== undefined) return;
    // Callbacks run in the order of the writes: the last one's says that every line before it is written.
    this.#last = new Promise((resolve) =>
      this.#stream.write(`${line}\n`, (error) => {
        if (error) this.#failed(error);
        resolve();
      }),
    );
  }

  /** Resolves once every line so far is written; rejects with the first failure, as a SluiceError. */
  async written(): Promise<void> {
    await this.#last;
    if (this.#error === undefined) return;
    const code = errno(this.#error);
    if (code === 'EPIPE') throw new SluiceError('ERR_CLOSED', `The reader of ${this.#name} closed it (EPIPE).`, { cause: this.#error });
    throw new SluiceError('ERR_STORAGE', `Writing to ${this.#name} failed (${code || (this.#error as Error).message}).`, { cause: this.#error });
  }

  #failed(error: unknown): void {
    this.#error ??= error;
  }
}
