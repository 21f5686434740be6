import ts from 'typescript';
import type { Setup } from './setups.js';

/**
 * Type-checks a set-up's files in `project` as `tsc --noEmit -p` would, and returns the errors of the consumer's
 * files and of sluice's declarations, formatted as tsc prints them.
 *
 * Done through the compiler API rather than one tsc per set-up: the programs share parsed files (`cache`), and only
 * the files under test are checked, not TypeScript's libs or @types/node again in every set-up. A sluice
 * declaration that names a type the set-up lacks is an error in that declaration, so it is reported all the same
 * (tsc would hide it under `skipLibCheck`; the set-ups turn it off).
 */
export function typecheck(project: string, setup: Setup, cache: Map<string, ts.SourceFile>): string[] {
  const config = ts.parseJsonConfigFileContent({ ...setup.tsconfig, files: setup.files }, ts.sys, project);
  if (config.errors.length > 0) return config.errors.map(format(project));
  const host = ts.createCompilerHost(config.options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, version, ...rest) => {
    const key = `${fileName}|${JSON.stringify(version)}`;
    let file = cache.get(key);
    if (!file) {
      file = read(fileName, version, ...rest);
      if (file) cache.set(key, file);
    }
    return file;
  };
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host });
  const underTest = program
    .getSourceFiles()
    .filter((file) => !file.fileName.includes('/node_modules/') || file.fileName.includes('/node_modules/sluice/'));
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...underTest.flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]),
  ];
  return diagnostics.map(format(project));
}

const format = (project: string) => (diagnostic: ts.Diagnostic) =>
  ts.formatDiagnostic(diagnostic, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => project, getNewLine: () => '\n' }).trim();

/**
 * The names a declaration file exports as values, as TypeScript sees them: what a consumer may `import { X }` and use
 * at run time. A name exported type-only anywhere along its chain of re-exports is a type, whatever it names.
 */
export function valueExports(file: string): string[] {
  const program = ts.createProgram({ rootNames: [file], options: { noEmit: true, types: [], skipLibCheck: true } });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  const isValue = (symbol: ts.Symbol): boolean => {
    for (let at: ts.Symbol | undefined = symbol; at; at = checker.getImmediateAliasedSymbol(at)) {
      if (at.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) return false;
      if (!(at.flags & ts.SymbolFlags.Alias)) return (at.flags & ts.SymbolFlags.Value) !== 0;
    }
    return false;
  };
  return checker.getExportsOfModule(module).filter(isValue).map((s) => s.name).sort();
}
