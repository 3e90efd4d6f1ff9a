/**
 * yargs' platform shim imports cliui and string-width, which only lay out help text: loading them
 * was ~55 ms of every start (string-width makes an Intl.Segmenter and compiles Unicode property
 * regular expressions, in two copies). They are replaced by stand-ins that load the real package
 * at their first call, that is when help is shown. In the sources commands.ts resolves yargs'
 * imports of them to this module, with `from` (the importing module, so that the same copy
 * resolves) and `package` in its URL query; the bundle's build (agent/build-bundle.ts) makes a
 * stand-in of its own with loadedAtFirstCall.
 */
import { createRequire } from 'node:module';

type Layout = (...args: unknown[]) => unknown;

const kHelpLayoutPackages = new Set(['cliui', 'string-width']);

/** Whether `specifier`, imported by `importer` (a URL or a path), is one of yargs' imports of them. */
export function isHelpLayoutImport(specifier: string, importer: string): boolean {
  return kHelpLayoutPackages.has(specifier) && importer.includes('/yargs/lib/platform-shims/');
}

/** A function that loads the real one at its first call (`load` gives a module: its default export or itself). */
export function loadedAtFirstCall(load: () => unknown): Layout {
  let real: Layout | null = null;
  return (...args) => {
    if (real === null) {
      // An ES module's require() gives its namespace, or its 'module.exports' export (cliui's).
      const loaded = load() as Layout | { default: Layout };
      real = typeof loaded === 'function' ? loaded : loaded.default;
    }
    return real(...args);
  };
}

function queryParameter(key: string): string {
  const value = new URL(import.meta.url).searchParams.get(key);
  if (value === null) throw new Error(`help-layout.ts needs ?from=URL&package=NAME, got ${import.meta.url}`);
  return value;
}

export default loadedAtFirstCall(() => createRequire(queryParameter('from'))(queryParameter('package')));
