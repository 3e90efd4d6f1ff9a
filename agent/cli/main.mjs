#!/usr/bin/env node
/**
 * The `wirespan` executable. It only turns on Node's compile cache before loading the CLI:
 * Node strips TypeScript types at every start, and with the cache (which also keeps the
 * stripped source) a start takes ~0.15 s of CPU instead of ~0.5 s (measured on the 2-core dev
 * machine). This file is plain JavaScript so that loading it does not start the type
 * stripper.
 *
 * The cache holds code that Node runs without checking more than a CRC32, so it must be
 * private: a cache another local user could write is code execution as whoever runs
 * wirespan (root, on a host install). It is therefore never Node's default place (a shared
 * `node-compile-cache` under the temporary directory that anyone can create first) but:
 *   - WIRESPAN_COMPILE_CACHE when set (`off` or empty: no cache), else
 *   - `$XDG_CACHE_HOME/wirespan/compile-cache` or `~/.cache/wirespan/compile-cache`,
 * created with mode 0700, and used only when it (and the directory holding it) is a real
 * directory owned by this process's user (or, for the holder, root) that neither group nor
 * others may write. Otherwise the cache is off, with one warning on stderr (none when the
 * default place simply cannot be created: no home directory, read-only filesystem).
 *
 * NODE_COMPILE_CACHE is applied by Node itself before this file runs; wirespan checks that
 * directory the same way and, when it fails, restarts itself (same process id, execve)
 * without the cache. Only this small file was loaded from that cache before the check.
 */
import fs from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';

const kGroupOtherWrite = 0o022;
const kSticky = 0o1000;

/** Why `dir` is not a private directory of this user (null when it is). */
function notPrivate(dir) {
  let stat;
  try {
    stat = fs.lstatSync(dir);
  } catch (error) {
    return `cannot check it (${error.code ?? error.message})`;
  }
  if (stat.isSymbolicLink()) return 'it is a symbolic link';
  if (!stat.isDirectory()) return 'it is not a directory';
  const uid = process.getuid?.() ?? stat.uid;
  if (stat.uid !== uid) return `it is owned by uid ${stat.uid}, not ${uid}`;
  if ((stat.mode & kGroupOtherWrite) !== 0) {
    return `group or others may write it (mode ${(stat.mode & 0o7777).toString(8)})`;
  }
  return null;
}

/** The directory holding the cache directory: ours or root's, and not writable by others (unless sticky, like /tmp). */
function unsafeHolder(dir) {
  let stat;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    return `cannot check ${dir} (${error.code ?? error.message})`;
  }
  const uid = process.getuid?.() ?? stat.uid;
  if (stat.uid !== uid && stat.uid !== 0) return `${dir} is owned by uid ${stat.uid}`;
  if ((stat.mode & kGroupOtherWrite) !== 0 && (stat.mode & kSticky) === 0) {
    return `${dir} may be written by group or others`;
  }
  return null;
}

function problemWith(dir) {
  const own = notPrivate(dir);
  if (own !== null) return `${dir}: ${own}`;
  const holder = unsafeHolder(path.dirname(dir));
  return holder;
}

function warn(message) {
  process.stderr.write(`wirespan: compile cache off: ${message}\n`);
}

function defaultCacheDir() {
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'wirespan', 'compile-cache');
  let home = process.env.HOME;
  if (!home) {
    try {
      home = os.homedir();
    } catch {
      return null;
    }
  }
  if (!home || !path.isAbsolute(home)) return null;
  return path.join(home, '.cache', 'wirespan', 'compile-cache');
}

function setUpCompileCache() {
  if (!module.enableCompileCache || process.env.NODE_DISABLE_COMPILE_CACHE) return;
  const enabledByNode = module.getCompileCacheDir?.();
  if (enabledByNode) {
    // NODE_COMPILE_CACHE: Node enabled it already. Check the directory and Node's versioned subdirectory.
    const configured = path.resolve(process.env.NODE_COMPILE_CACHE ?? path.dirname(enabledByNode));
    const problem = problemWith(configured) ?? notPrivateOrNull(enabledByNode);
    if (problem === null) return;
    warn(`NODE_COMPILE_CACHE ${problem}; restarting without it`);
    const env = { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' };
    delete env.NODE_COMPILE_CACHE;
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
    return;
  }
  const configured = process.env.WIRESPAN_COMPILE_CACHE;
  if (configured !== undefined && (configured === '' || configured === 'off')) return;
  const dir = configured !== undefined ? path.resolve(configured) : defaultCacheDir();
  if (dir === null) return;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    // The default place cannot be made (read-only home...): silently without a cache.
    if (configured !== undefined)
      warn(`cannot create WIRESPAN_COMPILE_CACHE ${dir} (${error.code ?? error.message})`);
    return;
  }
  const problem = problemWith(dir);
  if (problem !== null) {
    warn(problem);
    return;
  }
  const result = module.enableCompileCache(dir);
  // Node's versioned subdirectory: planted there before we made the directory private?
  if (result?.directory) {
    const sub = notPrivateOrNull(result.directory);
    if (sub !== null) {
      warn(`${sub}; restarting without it`);
      const env = { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' };
      delete env.NODE_COMPILE_CACHE;
      process.execve(
        process.execPath,
        [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
        env,
      );
    }
  }
}

function notPrivateOrNull(dir) {
  if (!fs.existsSync(dir)) return null;
  const problem = notPrivate(dir);
  return problem === null ? null : `${dir}: ${problem}`;
}

/**
 * The CLI is TypeScript run by Node's type stripping and needs Node 24 APIs: on an older Node
 * (the machines' own Node 20, say) say so in one line instead of ERR_UNKNOWN_FILE_EXTENSION.
 */
const kMinimumNodeMajor = 24;
if (Number(process.versions.node.split('.')[0]) < kMinimumNodeMajor) {
  process.stderr.write(
    `wirespan: needs Node.js ${kMinimumNodeMajor} or newer, this is ${process.version}. ` +
      'In the project, npm ci brings Node 24: run `npx wirespan ...` or an `npm run` script; elsewhere install Node 24 LTS.\n',
  );
  process.exit(2);
}

/**
 * `run` and `replay --otlp` restart once with their process settings (restart-settings.mjs).
 * Imported only now, after the compile cache was checked: a module imported statically would be
 * read from a NODE_COMPILE_CACHE before the check could refuse it.
 */
async function restartWithExportSettings() {
  if (typeof process.execve !== 'function') return;
  const { restartSettings } = await import('./restart-settings.mjs');
  const restart = restartSettings(process.argv, process.execArgv, process.env);
  if (restart === null) return;
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...restart.flags, ...process.argv.slice(1)],
    { ...process.env, ...restart.env },
  );
}

setUpCompileCache();
await restartWithExportSettings();
await import('./commands.ts');
