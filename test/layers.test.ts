import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// DESIGN.md's layers, one direction of dependency: platform glue and entry files -> outbox -> core, stores -> core.
// Each source file may import from the layers listed for its own, and only the packages listed.

const src = resolve(import.meta.dirname, '../src');

interface Layer {
  /** Which files are in it (path relative to src/). */
  readonly match: (file: string) => boolean;
  /** Which layers its relative imports may reach (path prefixes relative to src/, besides its own folder). */
  readonly may: readonly string[];
  /** Which bare specifiers (packages, node: builtins) it may import. */
  readonly packages: (specifier: string) => boolean;
}

const none = () => false;
const node = (s: string) => s.startsWith('node:');
const layers: Record<string, Layer> = {
  core: { match: (f) => f.startsWith('core/'), may: ['core/'], packages: none },
  'stores/memory': { match: (f) => f.startsWith('stores/memory/'), may: ['core/', 'stores/memory/'], packages: none },
  'stores/indexeddb': { match: (f) => f.startsWith('stores/indexeddb/'), may: ['core/', 'stores/indexeddb/'], packages: (s) => s === 'idb' },
  'stores/fs': { match: (f) => f.startsWith('stores/fs/'), may: ['core/', 'stores/fs/'], packages: node },
  'stores/redis': { match: (f) => f.startsWith('stores/redis/'), may: ['core/', 'stores/redis/'], packages: (s) => s === 'ioredis' || node(s) },
  outbox: { match: (f) => f.startsWith('outbox/'), may: ['core/', 'outbox/'], packages: none },
  platform: { match: (f) => f.startsWith('platform/'), may: ['core/', 'stores/', 'outbox/', 'platform/'], packages: node },
  entries: { match: (f) => !f.includes('/'), may: [''], packages: none },
};

/** Names the core must not reach for: platform globals belong to the stores and entry files. */
const PLATFORM_GLOBALS = /\b(?:navigator|indexedDB|window|document|self\.registration|process\.)/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every import of every source file that its layer does not allow, as "file: specifier (why)". */
function violations(): string[] {
  const out: string[] = [];
  for (const path of sources(src)) {
    const file = relative(src, path);
    const [name, layer] = Object.entries(layers).find(([, l]) => l.match(file)) ?? [];
    if (!layer) {
      out.push(`${file}: in no layer (add it to test/layers.test.ts)`);
      continue;
    }
    const text = readFileSync(path, 'utf8');
    for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!specifier.startsWith('.')) {
        if (!layer.packages(specifier)) out.push(`${file}: '${specifier}' (a package the ${name} layer may not import)`);
        continue;
      }
      const target = relative(src, resolve(dirname(path), specifier));
      if (target.startsWith('..')) out.push(`${file}: '${specifier}' (outside src/)`);
      else if (!layer.may.some((prefix) => target.startsWith(prefix))) out.push(`${file}: '${specifier}' (the ${name} layer may not import ${target})`);
    }
    if (name === 'core') {
      // Comments may name them (to say why not).
      const found = PLATFORM_GLOBALS.exec(text.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, ''));
      if (found) out.push(`${file}: uses '${found[0]}' (a platform global: it belongs in a store or an entry file)`);
    }
  }
  return out;
}

describe('layers (DESIGN.md)', () => {
  it('every import in src/ points down a layer, and the core touches no platform global', () => {
    expect(violations()).toEqual([]);
  });

  it('the check finds an import against the layers', () => {
    const text = "import { Outbox } from '../outbox/outbox.js';";
    const imported = ts.preProcessFile(text, true, true).importedFiles.map((f) => relative(src, resolve(join(src, 'core'), f.fileName)));
    expect(imported).toEqual(['outbox/outbox.js']);
    expect(layers.core!.may.some((prefix) => imported[0]!.startsWith(prefix))).toBe(false);
  });

  it('no file in src/ is over 300 lines: one that grows past it holds two things', () => {
    const long = sources(src)
      .map((file) => [relative(src, file), readFileSync(file, 'utf8').split('\n').length - 1] as const)
      .filter(([, lines]) => lines > 300)
      .map(([file, lines]) => `${file}: ${lines} lines`);
    expect(long).toEqual([]);
  });
});
