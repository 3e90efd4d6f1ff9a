/**
 * A stand-in for a package yargs imports only to lay out help text (cliui, string-width): the
 * package loads at the stand-in's first call, that is when help is shown. commands.ts resolves
 * yargs' imports of them here, with `from` (the importing module, so that the same copy
 * resolves) and `package` in this module's URL query.
 */
import { createRequire } from 'node:module';

function queryParameter(key: string): string {
  const value = new URL(import.meta.url).searchParams.get(key);
  if (value === null) throw new Error(`help-layout.ts needs ?from=URL&package=NAME, got ${import.meta.url}`);
  return value;
}

type Layout = (...args: unknown[]) => unknown;
const requireFromImporter = createRequire(queryParameter('from'));
const packageName = queryParameter('package');
let real: Layout | null = null;

export default function standIn(...args: unknown[]): unknown {
  if (real === null) {
    // An ES module's require() gives its namespace, or its 'module.exports' export (cliui's).
    const loaded = requireFromImporter(packageName) as Layout | { default: Layout };
    real = typeof loaded === 'function' ? loaded : loaded.default;
  }
  return real(...args);
}
