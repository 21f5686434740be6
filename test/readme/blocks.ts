// The README's code blocks, with how each is checked: the HTML comment before a block (`<!-- check: … -->`) says
// where it runs (`page`, `worker`; Node by default), what it assumes declared (`prelude <name>`), whether it is
// run (`run`), and what the stand-in server answers it (`server 503 409`: those statuses to its first requests,
// in order, then 201).
import { readFileSync } from 'node:fs';

export type Env = 'node' | 'page' | 'worker';

export interface Block {
  /** The README line of the opening fence (1-based). */
  readonly line: number;
  readonly lang: 'ts' | 'js';
  readonly code: string;
  readonly env: Env;
  readonly preludes: readonly string[];
  readonly run: boolean;
  /** Statuses the stand-in server answers this block's requests with, in order (then 201). */
  readonly server: readonly number[];
}

const FENCE = /^(\s*)```(\w*)\s*$/;
const CHECK = /^\s*<!--\s*check:(.*?)-->\s*$/;
const CHECKED = new Set(['ts', 'typescript', 'js', 'javascript']);
/** Languages that are not code to check: shell commands, output, data. */
const SKIPPED = new Set(['sh', 'bash', 'shell', 'console', 'text', 'json', 'diff', '']);

/** Every ts/js block of `file`; a block in another language is skipped, one in an unknown language is an error. */
export function readBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]!.match(FENCE);
    if (!open) continue;
    const [, indent, lang] = open as unknown as [string, string, string];
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    if (end === lines.length) throw new Error(`README line ${i + 1}: a code block that is never closed`);
    const code = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      .join('\n');
    const line = i + 1;
    i = end;
    if (SKIPPED.has(lang)) continue;
    if (!CHECKED.has(lang)) throw new Error(`README line ${line}: a \`${lang}\` block: check it here, or add the language to SKIPPED`);
    // The comment, if any, is on the line before the fence, or before the blank lines above it.
    let above = line - 2;
    while (above >= 0 && lines[above]!.trim() === '') above--;
    const words = (lines[above]?.match(CHECK)?.[1] ?? '')
      .split(',')
      .map((w) => w.trim())
      .filter(Boolean);
    let env: Env = 'node';
    const preludes: string[] = [];
    let run = false;
    let server: number[] = [];
    for (const word of words) {
      const [head, ...rest] = word.split(/\s+/);
      if (head === 'run' && rest.length === 0) run = true;
      else if ((head === 'page' || head === 'worker') && rest.length === 0) env = head;
      else if (head === 'prelude' && rest.length > 0) preludes.push(...rest);
      else if (head === 'server' && rest.length > 0 && rest.every((r) => /^\d{3}$/.test(r))) server = rest.map(Number);
      else throw new Error(`README line ${above + 1}: "${word}" is not a check word (run, page, worker, prelude <name>, server <status>…)`);
    }
    if (run && env !== 'node') throw new Error(`README line ${line}: only Node blocks can run here`);
    blocks.push({ line, lang: lang.startsWith('t') ? 'ts' : 'js', code, env, preludes, run, server });
  }
  return blocks;
}

/** The cells of every table row of `file` (header and separator rows left out), with the line of each row. */
export function readTables(file: string): { line: number; cells: string[] }[][] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const tables: { line: number; cells: string[] }[][] = [];
  let current: { line: number; cells: string[] }[] | undefined;
  lines.forEach((text, i) => {
    if (!text.startsWith('|')) {
      current = undefined;
      return;
    }
    // Split on pipes that are not escaped (`\|` stands for a pipe inside a cell).
    const cells = text
      .slice(1, text.trimEnd().endsWith('|') ? text.trimEnd().length - 1 : undefined)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'));
    if (!current) {
      current = [];
      tables.push(current);
      current.push({ line: i + 1, cells }); // the header row: kept, so that a table can be told by its header
      return;
    }
    if (cells.every((c) => /^:?-+:?$/.test(c))) return;
    current.push({ line: i + 1, cells });
  });
  return tables;
}

/** The `code` spans of a table cell. */
export function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}
