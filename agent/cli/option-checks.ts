/**
 * Flag validation that names its source, and the WIRESPAN_* environment filter of `wirespan run`.
 *
 * - Every validation error names where the bad value came from: `--timeout`, the environment
 *   variable `WIRESPAN_TIMEOUT`, or `--timeout` in the `--config` file, with the value as given
 *   (not the `NaN` a number option turns it into).
 * - A scalar flag given twice on the command line is an error (`--health-port 1 --health-port 2`
 *   would otherwise arrive as the list "1,2"); list flags (`--watch`, `--http-route`, the
 *   comma-separated port and CIDR lists) accumulate.
 * - Only WIRESPAN_* variables that name a known option are read. Kubernetes injects service-link
 *   variables into every pod of a namespace with a Service named `wirespan` (WIRESPAN_PORT,
 *   WIRESPAN_SERVICE_HOST, WIRESPAN_PORT_8089_TCP_ADDR, ...): they are ignored with one warning,
 *   as is a known name holding a service-link value (`tcp://10.0.0.7:8089`, which a Service named
 *   `wirespan-health` puts into WIRESPAN_HEALTH_PORT).
 */

/** A bad flag value: reported as a usage error (exit 2), not a crash. */
export class UsageError extends Error {}

export const kEnvPrefix = 'WIRESPAN';

/** `health-port` → `WIRESPAN_HEALTH_PORT`. */
export function envName(flag: string): string {
  return `${kEnvPrefix}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** `healthPort` → `health-port` (yargs accepts both spellings on the command line). */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Names of option flags on the command line, with values when given as `--name=value` or `--name value`. */
function commandLineValues(argv: readonly string[], names: readonly string[]): string[] | null {
  const wanted = new Set(names);
  const values: string[] = [];
  let seen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = kebab(eq < 0 ? arg.slice(2) : arg.slice(2, eq));
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (arg.startsWith('-') && arg.length === 2) {
      name = arg.slice(1);
    } else continue;
    if (!wanted.has(name)) continue;
    seen = true;
    if (inline !== undefined) values.push(inline);
    else if (i + 1 < argv.length) values.push(argv[i + 1]!);
  }
  return seen ? values : null;
}

/** What the checks need to know about the command being parsed. */
export interface OptionContext {
  /** The command line after `wirespan` (process.argv minus node and script). */
  argv: readonly string[];
  /** Whether WIRESPAN_* variables are read (only `wirespan run`). */
  env: boolean;
  /** Aliases by option name (e.g. watch: ['i', 'input']). */
  aliases: Readonly<Record<string, readonly string[]>>;
  /** The --config file and its values by flag name, once read. */
  config: { file: string; values: Readonly<Record<string, unknown>> } | null;
}

export const optionContext: OptionContext = { argv: [], env: false, aliases: {}, config: null };

/** Where the flag's value came from, and the value as given there (null when unknown). */
function sourceOf(flag: string): { source: string; raw: string | null } {
  const names = [flag, ...(optionContext.aliases[flag] ?? [])];
  const given = commandLineValues(optionContext.argv, names);
  if (given !== null) return { source: `--${flag}`, raw: given.at(-1) ?? null };
  if (optionContext.env) {
    for (const name of names) {
      const variable = envName(name);
      const value = process.env[variable];
      if (value !== undefined)
        return { source: `${variable} (the environment variable of --${flag})`, raw: value };
    }
  }
  const config = optionContext.config;
  if (config !== null) {
    for (const name of names) {
      if (name in config.values)
        return { source: `${name}: in the --config file ${config.file}`, raw: String(config.values[name]) };
    }
  }
  return { source: `--${flag}`, raw: null };
}

/**
 * Wraps a yargs `coerce` function: errors name the flag (or its variable, or the config file)
 * and the value as given; a scalar flag repeated on the command line is an error.
 */
export function checked<T>(flag: string, parse: (value: unknown) => T, list = false): (value: unknown) => T {
  return (value: unknown): T => {
    if (!list && Array.isArray(value)) {
      throw new UsageError(
        `--${flag} was given ${value.length} times (${value.map((v) => `"${String(v)}"`).join(', ')}): give it once`,
      );
    }
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      const { source, raw } = sourceOf(flag);
      // A number option turns "abc" into NaN before this sees it: show what was written.
      const message =
        typeof value === 'number' && Number.isNaN(value) && raw !== null
          ? error.message.replaceAll('"NaN"', JSON.stringify(raw))
          : error.message;
      // "--workers must be ...", "--timeout: not a positive number ...".
      throw new UsageError(`${source}${/^(must|entries) /.test(message) ? ' ' : ': '}${message}`);
    }
  };
}

/**
 * Adds the variable's name to yargs' own messages about a value from the environment
 * ("Invalid values: Argument: on-done, Given: ...").
 */
export function withEnvSource(message: string): string {
  if (!optionContext.env) return message;
  const match = /Argument: ([a-z0-9-]+)/.exec(message);
  if (match === null) return message;
  const flag = match[1]!;
  if (commandLineValues(optionContext.argv, [flag, ...(optionContext.aliases[flag] ?? [])]) !== null)
    return message;
  const variable = envName(flag);
  return process.env[variable] === undefined
    ? message
    : `${message} (from the environment variable ${variable})`;
}

/** A Kubernetes service-link value: `tcp://10.0.0.7:8089`, `udp://[fd00::1]:53`. */
const kServiceLinkValue = /^(tcp|udp|sctp):\/\/[^/]+:\d+$/i;

/**
 * Removes from `env` every WIRESPAN_* variable that does not name one of `flags` (or whose value
 * is a service link) and returns their names, sorted; yargs then reads only known keys.
 */
export function dropUnknownEnv(env: NodeJS.ProcessEnv, flags: Iterable<string>): string[] {
  const known = new Set<string>();
  for (const flag of flags) {
    known.add(envName(flag));
    known.add(envName(kebab(flag)));
  }
  const dropped: string[] = [];
  for (const name of Object.keys(env)) {
    // yargs reads every name that starts with the prefix (WIRESPANX too).
    if (!name.startsWith(kEnvPrefix)) continue;
    if (known.has(name) && !kServiceLinkValue.test(env[name] ?? '')) continue;
    dropped.push(name);
    delete env[name];
  }
  return dropped.sort();
}
