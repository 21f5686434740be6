import { SluiceError } from '../../core/errors.js';
import type { ProgressSink } from './progress.js';

/** Where the CLI writes; the process's streams by default. */
export interface CliIo {
  /** A line of results (stdout). */
  out(line: string): void;
  /** A line of diagnostics (stderr). */
  err(line: string): void;
  /**
   * Resolves once every line given to `out` so far is written (to the pipe or file: what a reader does with it is
   * beyond knowing); rejects with a SluiceError when a write failed. Without it, `out` writes at once or throws.
   */
  written?(): Promise<void>;
  /** Whether `out` writes nowhere (the null device): a drain would remove what it prints unseen. */
  nowhere?(): boolean;
  /** Where progress bars are drawn (stderr): only when it is a TTY. */
  readonly progress?: ProgressSink;
  /** The time, for ages and relative times. @default Date.now */
  readonly now?: () => number;
}

/** Prints `error` with its code: `sluice: CODE: message`, or as JSON for scripts. */
export function printError(io: CliIo, error: SluiceError, json: boolean): void {
  io.err(json ? JSON.stringify({ error: { code: error.code, message: error.message } }) : `sluice: ${error.code}: ${error.message}`);
}

/** Rows as aligned columns (the first row is the header); the last column is not padded. */
export function table(rows: readonly (readonly string[])[], widths = columnWidths(rows)): string[] {
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}

/** The width of each column of `rows`: its widest cell's, or `atLeast`'s where that is wider. */
export function columnWidths(rows: readonly (readonly string[])[], atLeast: readonly number[] = []): number[] {
  return rows[0]!.map((_, column) => rows.reduce((widest, row) => Math.max(widest, row[column]!.length), atLeast[column] ?? 0));
}

/** A span of time for people: 850ms, 12s, 5m 3s, 3h 2m, 2d 4h. */
export function duration(ms: number): string {
  const abs = Math.abs(Math.round(ms));
  if (abs < 1000) return `${abs}ms`;
  const s = Math.floor(abs / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** The exit code of a command that `signal` (Ctrl-C, or a kill) ended part way: 128 and its number, as a shell says. */
export function signalled(signal: NodeJS.Signals): number {
  return 128 + (signal === 'SIGINT' ? 2 : 15);
}

/**
 * Hears Ctrl-C or a kill (SIGINT, SIGTERM) in `stop`, the first of them, until the function returned is called: a
 * command stops where it may, and a second signal of either kind ends the process at once, as it would unheard (heard
 * once each, a kill after a Ctrl-C was heard as a first one: it re-armed the drain's cut-off, and named itself).
 */
export function onSignals(stop: (signal: NodeJS.Signals) => void): () => void {
  const unheard = () => {
    for (const signal of SIGNALS) process.off(signal, heard);
  };
  const heard = (signal: NodeJS.Signals) => {
    unheard();
    stop(signal);
  };
  for (const signal of SIGNALS) process.on(signal, heard);
  return unheard;
}
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
