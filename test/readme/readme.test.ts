// The README's code, checked: every ts/js block type-checks against the built package (dist/, through package.json's
// exports, as an app sees it), the blocks marked `run` run in Node against a stand-in server on 127.0.0.1, and the
// Reference section names every event, option and error code the package's types declare.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeSpans, readBlocks, readTables, type Block, type Env } from './blocks.js';
import { preludes } from './preludes.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const README = join(repo, 'README.md');
// The blocks' files for the compiler: never written, served by the compiler host. Inside the repository, so that
// `sluice` resolves as the package's own name (through its exports, to dist/).
const VIRTUAL = join(repo, '.readme-check');
// Where runnable blocks are written to run (inside the repository for the same reason; gitignored).
const RUN_DIR = join(repo, 'test-results', 'readme');

const built = existsSync(join(repo, 'dist/index.d.ts')) && existsSync(join(repo, 'dist/index.node.js'));
const blocks = readBlocks(README);
const title = (b: Block) => `README.md:${b.line} (${[b.lang, b.env !== 'node' && b.env, ...b.preludes.map((p) => `prelude ${p}`)].filter(Boolean).join(', ')})`;

// ---- type checks ----

const LIBS: Record<Env, string[]> = {
  node: ['ES2022', 'ESNext.Disposable'],
  page: ['ES2022', 'DOM', 'DOM.Iterable', 'ESNext.Disposable'],
  worker: ['ES2022', 'WebWorker', 'ESNext.Disposable'],
};

/** "'x' is of type 'unknown'", "Object is of type 'unknown'". */
const UNKNOWN_USED = new Set([18046, 2571]);

/** Library files parsed once for every program. */
const parsed = new Map<string, ts.SourceFile>();

function compilerOptions(env: Env, lang: 'ts' | 'js'): ts.CompilerOptions {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      moduleDetection: 'force',
      lib: LIBS[env],
      types: env === 'node' ? ['node'] : [],
      strict: true,
      // JavaScript blocks are checked as TypeScript, minus the annotations JavaScript cannot have.
      noImplicitAny: lang === 'ts',
      skipLibCheck: true,
      noEmit: true,
    },
    repo,
  );
  if (errors.length > 0) throw new Error(ts.flattenDiagnosticMessageText(errors[0]!.messageText, '\n'));
  return options;
}

const fileOf = (b: Block) => join(VIRTUAL, `readme-${b.line}.ts`);

/** The block as the compiler sees it: its code, then its preludes' declarations (its line numbers stay the README's). */
function source(b: Block): string {
  const declarations = b.preludes.map((name) => {
    const prelude = preludes[name];
    if (!prelude) throw new Error(`README line ${b.line}: no prelude "${name}" (test/readme/preludes.ts has ${Object.keys(preludes).join(', ')})`);
    return prelude.types;
  });
  return [b.code, '', ...declarations].join('\n');
}

/** Type-checks `group` (blocks of one environment and language) in one program; messages by README line. */
function typeCheck(group: Block[]): Map<Block, string[]> {
  const [{ env, lang }] = group as [Block];
  const options = compilerOptions(env, lang);
  const files = new Map(group.map((b) => [fileOf(b), source(b)]));
  const base = ts.createCompilerHost(options, true);
  const host: ts.CompilerHost = {
    ...base,
    fileExists: (f) => files.has(f) || base.fileExists(f),
    readFile: (f) => files.get(f) ?? base.readFile(f),
    getSourceFile(f, version, onError) {
      const text = files.get(f);
      if (text !== undefined) return ts.createSourceFile(f, text, version, true);
      const key = `${f}\0${typeof version === 'object' ? `${version.languageVersion}:${version.impliedNodeFormat}` : version}`;
      let file = parsed.get(key);
      if (!file) {
        file = base.getSourceFile(f, version, onError);
        if (file) parsed.set(key, file);
      }
      return file;
    },
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const out = new Map<Block, string[]>(group.map((b) => [b, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    // JavaScript cannot pass type arguments (`Queue.open<Job>`) or cast: a value it gets as unknown is its to trust.
    if (lang === 'js' && UNKNOWN_USED.has(d.code)) continue;
    const block = group.find((b) => d.file?.fileName === fileOf(b));
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!block || !d.file || d.start === undefined) {
      // Not in a block: a broken set-up, which every block of the group reports.
      for (const messages of out.values()) messages.push(`TS${d.code}: ${text}`);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const codeLines = block.code.split('\n').length;
    const where = line < codeLines ? `README.md:${block.line + 1 + line}` : `the prelude of README.md:${block.line}`;
    out.get(block)!.push(`${where}: TS${d.code}: ${text}`);
  }
  return out;
}

describe('README code blocks', () => {
  it('are found, and the package is built (npm test builds first; else run npm run build)', () => {
    expect(built).toBe(true);
    expect(blocks.length).toBeGreaterThan(10);
  });

  const results = new Map<Block, string[]>();
  beforeAll(() => {
    if (!built) return;
    const groups = new Map<string, Block[]>();
    for (const b of blocks) groups.set(`${b.env}:${b.lang}`, [...(groups.get(`${b.env}:${b.lang}`) ?? []), b]);
    for (const group of groups.values()) for (const [b, messages] of typeCheck(group)) results.set(b, messages);
  }, 120_000);

  for (const block of blocks) {
    it.skipIf(!built)(`${title(block)} type-checks`, () => {
      expect(results.get(block)).toEqual([]);
    });
  }
});

// ---- runs ----

/** The stand-in for https://api.example.com: records requests, answers each block's scripted statuses, then 201. */
class StandIn {
  readonly #server: Server;
  script: number[] = [];
  requests: { method: string; path: string; key: string | undefined; status: number }[] = [];
  served = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const status = this.script.shift() ?? 201;
        this.requests.push({ method: req.method!, path: req.url!, key: req.headers['idempotency-key'] as string | undefined, status });
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (status === 429 || status === 503) headers['retry-after'] = '1';
        res.writeHead(status, headers).end(JSON.stringify(status < 300 ? { id: `srv-${++this.served}` } : { error: `scripted ${status}` }));
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

// Run first in every block's process: requests to the README's example origins go to the stand-in server.
const RUNTIME = `const standIn = process.env.README_API;
const realFetch = globalThis.fetch;
const toStandIn = (url) => url.replace(/^https:\\/\\/(api\\.example\\.com|partner\\.example)(?=\\/|$)/, standIn);
globalThis.fetch = async (input, init) => {
  if (!(input instanceof Request)) return realFetch(toStandIn(String(input)), init);
  const body = input.body === null ? undefined : await input.arrayBuffer();
  return realFetch(new Request(toStandIn(input.url), { method: input.method, headers: input.headers, body, signal: input.signal }), init);
};
`;

const RUNNER = `import { pathToFileURL } from 'node:url';
setTimeout(() => {
  console.error('README block: still running after 20 s');
  process.exit(3);
}, 20_000).unref();
await import(pathToFileURL(process.argv[2]).href);
process.exit(0);
`;

function runFile(file: string, api: string): Promise<{ code: number; output: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
  return new Promise((resolve) => {
    execFile(process.execPath, [join(RUN_DIR, 'runner.mjs'), file], { cwd, env: { ...process.env, README_API: api } }, (error, stdout, stderr) => {
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('README recipes that run', () => {
  const server = new StandIn();
  let api = '';
  beforeAll(async () => {
    api = await server.start();
    mkdirSync(RUN_DIR, { recursive: true });
    writeFileSync(join(RUN_DIR, 'runtime.mjs'), RUNTIME);
    writeFileSync(join(RUN_DIR, 'runner.mjs'), RUNNER);
    for (const [name, prelude] of Object.entries(preludes)) if (prelude.runtime) writeFileSync(join(RUN_DIR, `prelude-${name}.mjs`), prelude.runtime);
  });
  afterAll(() => server.close());

  const runnable = blocks.filter((b) => b.run);
  it('are at least eight', () => expect(runnable.length).toBeGreaterThanOrEqual(8));

  for (const block of runnable) {
    it.skipIf(!built)(`${title(block)} runs${block.server.length ? ` (the server answers ${block.server.join(', ')}, then 201)` : ''}`, async () => {
      for (const name of block.preludes) expect(preludes[name]?.runtime, `prelude ${name} has no runtime part`).toBeDefined();
      const js = ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      const imports = ['./runtime.mjs', ...block.preludes.map((name) => `./prelude-${name}.mjs`)].map((f) => `import '${f}';`);
      const file = join(RUN_DIR, `readme-${block.line}.mjs`);
      writeFileSync(file, `${imports.join('\n')}\n${js}`);
      server.script = [...block.server];
      server.requests = [];
      const { code, output } = await runFile(file, api);
      expect({ code, output }).toMatchObject({ code: 0 });
      // Every scripted answer was asked for: the block made the requests it says it makes.
      expect(server.script).toEqual([]);
    }, 30_000);
  }
});

// ---- the reference: every event, option and error code ----

describe('README reference', () => {
  const tables = readTables(README);
  const probe = join(VIRTUAL, 'reference.ts');
  const names = [
    `import type { QueueEventMap, OutboxEventMap, SluiceErrorCode, QueueOptions, OutboxOptions, PushOptions, TakeOptions, ReleaseOptions, IterateOptions, ListOptions, RemoveOptions, FlushOptions, WhenDrainedOptions, ListPendingOptions } from 'sluice';`,
    `import type { FileStoreOptions } from 'sluice/fs';`,
    `import type { IndexedDbStoreOptions } from 'sluice/indexeddb';`,
    `import type { RedisStoreOptions } from 'sluice/redis';`,
    `import type { BackgroundSyncOptions } from 'sluice/sw';`,
    `export type All = [QueueEventMap, OutboxEventMap, SluiceErrorCode, QueueOptions<unknown>, OutboxOptions, PushOptions, TakeOptions<unknown>, ReleaseOptions, IterateOptions, ListOptions, RemoveOptions, FlushOptions, WhenDrainedOptions, ListPendingOptions, FileStoreOptions, IndexedDbStoreOptions, RedisStoreOptions, BackgroundSyncOptions];`,
  ].join('\n');
  let types: Map<string, ts.Type>;
  let checker: ts.TypeChecker;

  beforeAll(() => {
    if (!built) return;
    const options = compilerOptions('node', 'ts');
    const base = ts.createCompilerHost(options, true);
    const host: ts.CompilerHost = {
      ...base,
      fileExists: (f) => f === probe || base.fileExists(f),
      readFile: (f) => (f === probe ? names : base.readFile(f)),
      getSourceFile: (f, version, onError) => (f === probe ? ts.createSourceFile(f, names, version, true) : base.getSourceFile(f, version, onError)),
    };
    const program = ts.createProgram([probe], options, host);
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    if (problems.length > 0) throw new Error(problems.join('\n'));
    checker = program.getTypeChecker();
    const file = program.getSourceFile(probe)!;
    const all = file.statements.find(ts.isTypeAliasDeclaration)!;
    const elements = (all.type as ts.TupleTypeNode).elements;
    types = new Map(elements.map((node) => [node.getText().replace(/<.*>$/, ''), checker.getTypeFromTypeNode(node)]));
  }, 60_000);

  const props = (type: ts.Type) => checker.getPropertiesOfType(checker.getNonNullableType(type));

  it.skipIf(!built)('lists every event of Queue and Outbox, with every field of its detail', () => {
    const events = tables.find((t) => t[0]!.cells.join() === 'on,event,`detail`,when');
    expect(events, 'the Events table (| on | event | `detail` | when |)').toBeDefined();
    const missing: string[] = [];
    for (const [target, map] of [['Queue', 'QueueEventMap'], ['Outbox', 'OutboxEventMap']] as const) {
      for (const event of props(types.get(map)!)) {
        const row = events!.find((r) => r.cells[0] === `\`${target}\`` && r.cells[1] === `\`${event.name}\``);
        if (!row) {
          missing.push(`${target} '${event.name}'`);
          continue;
        }
        const detail = checker.getTypeOfSymbol(event).getProperty('detail');
        for (const field of detail ? props(checker.getTypeOfSymbol(detail)) : []) {
          if (!codeSpans(row.cells[2]!).some((span) => span === field.name)) missing.push(`${target} '${event.name}' detail.${field.name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it.skipIf(!built)('gives every option of every open() and call a row with its default', () => {
    // An option is documented by a table row whose first cells name it in code, with a default cell that is not empty.
    const documented = new Set<string>();
    for (const table of tables) {
      const header = table[0]!.cells;
      const at = header.indexOf('default');
      if (header[0] !== 'option' && header[1] !== 'option') continue;
      for (const row of table.slice(1)) {
        if (at >= 0 && !row.cells[at]) continue;
        for (const cell of row.cells.slice(0, header.indexOf('option') + 1)) for (const span of codeSpans(cell)) documented.add(span.replace(/\(.*$/, ''));
      }
    }
    const nested: Record<string, string> = { retry: 'RetryOptions', batch: 'BatchOptions', limits: 'LimitOptions' };
    const missing: string[] = [];
    for (const [name, type] of types) {
      if (!name.endsWith('Options')) continue;
      for (const option of props(type)) {
        const inner = name === 'OutboxOptions' && nested[option.name] ? props(checker.getTypeOfSymbol(option)) : undefined;
        if (inner) for (const field of inner) documented.has(`${option.name}.${field.name}`) || missing.push(`${name}.${option.name}.${field.name}`);
        else if (!documented.has(option.name)) missing.push(`${name}.${option.name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it.skipIf(!built)('has one table of error codes, with every code', () => {
    const errorTables = tables.filter((t) => t[0]!.cells.join() === 'code,when');
    expect(errorTables).toHaveLength(1);
    const listed = errorTables[0]!.slice(1).flatMap((r) => codeSpans(r.cells[0]!));
    const codes = (types.get('SluiceErrorCode')! as ts.UnionType).types.map((t) => (t as ts.StringLiteralType).value);
    expect(codes.filter((code) => !listed.includes(code))).toEqual([]);
    expect(listed.filter((code) => !codes.includes(code))).toEqual([]);
  });
});
