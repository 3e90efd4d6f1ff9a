/**
 * The correlation flags of replay, run and report, generated from the protocol registry: each
 * descriptor's option specs (correlate/protocol.ts) and its `--<name>-timeout`, then the shared
 * `--timeout`, `--memory-budget` and `--max-pending`. The config file's keys are the same names.
 */
import type { Argv } from 'yargs';
import { kDefaultMemoryBudgetMiB, kMinMemoryBudgetMiB } from '../correlate/memory-budget.ts';
import { kDefaultTimeoutSeconds } from '../correlate/options.ts';
import { type ProtocolOption, type ProtocolRegistry, timeoutFlag } from '../correlate/protocol.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import { checked, UsageError } from './option-checks.ts';

export function portList(value: unknown): number[] {
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  return items
    .filter((item) => item.trim() !== '')
    .map((item) => {
      const port = Number(item);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new UsageError(`not a port number: "${item}"`);
      return port;
    });
}

/** Comma-separated strings (CIDRs, MATCH=NAME entries), trimmed, empty ones dropped. */
export function textList(value: unknown): string[] {
  return String(value)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export function positiveSeconds(value: unknown): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`not a positive number of seconds: "${value}"`);
  return seconds;
}

export function positiveInteger(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`not a positive integer: "${value}"`);
  return n;
}

function memoryBudget(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < kMinMemoryBudgetMiB)
    throw new UsageError(`not a memory budget in MiB (an integer >= ${kMinMemoryBudgetMiB}): "${value}"`);
  return n;
}

/** `dns-ports` → `dnsPorts`: the key of a flag's value in the commands' options (yargs' camelCase too). */
export function camelCase(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The yargs definition of one protocol option. */
function yargsOption(option: ProtocolOption) {
  switch (option.type) {
    case 'boolean':
      return { describe: option.describe, type: 'boolean' as const, default: option.default };
    case 'ports':
      return {
        describe: option.describe,
        type: 'string' as const,
        default: option.default.join(','),
        coerce: checked(option.flag, portList, true),
      };
    case 'list':
      return {
        describe: option.describe,
        type: 'string' as const,
        default: option.default.join(','),
        coerce: checked(option.flag, textList, true),
      };
    case 'choice':
      return { describe: option.describe, choices: option.choices, default: option.default };
  }
}

/** The correlation flags (shared by replay, run and report). */
export function correlationOptions<T>(y: Argv<T>, registry: ProtocolRegistry = matcherRegistry) {
  let flags = y;
  for (const descriptor of registry) {
    for (const option of descriptor.options ?? []) flags = flags.option(option.flag, yargsOption(option));
  }
  for (const descriptor of registry) {
    const flag = timeoutFlag(descriptor);
    flags = flags.option(flag, {
      describe: `--timeout for ${descriptor.label ?? descriptor.name} requests only (default: --timeout)`,
      type: 'number',
      coerce: checked(flag, positiveSeconds),
    });
  }
  return flags
    .option('timeout', {
      describe: 'seconds (of capture time) a request waits for its response before it is reported unanswered',
      type: 'number',
      default: kDefaultTimeoutSeconds,
      coerce: checked('timeout', positiveSeconds),
    })
    .option('memory-budget', {
      describe:
        'MiB the correlation tables may hold; the pending and TCP reassembly caps derive from it (docs/operating.md "Memory budget")',
      type: 'number',
      default: kDefaultMemoryBudgetMiB,
      coerce: checked('memory-budget', memoryBudget),
    })
    .option('max-pending', {
      describe:
        'cap on pending requests per protocol (default: derived from --memory-budget); the oldest is evicted (and reported) beyond it',
      type: 'number',
      coerce: checked('max-pending', positiveInteger),
    });
}

/**
 * The correlation settings as the commands take them: each protocol option under the camelCase
 * of its flag (`dnsPorts`, `relayEcho`, `dnsTimeout`); absent ones take their defaults.
 */
export interface CorrelateCliOptions {
  timeoutSeconds: number;
  /** MiB the correlation tables may hold: the caps derive from it (correlate/memory-budget.ts). */
  memoryBudgetMiB?: number | undefined;
  /** Explicit pending cap per protocol (overrides the budget's); undefined = derived. */
  maxPending?: number | undefined;
  readonly [protocolOption: string]: unknown;
}

/** Parsed flags (yargs argv) → the commands' correlation settings. */
export function correlationArgs(
  argv: Readonly<Record<string, unknown>>,
  registry: ProtocolRegistry = matcherRegistry,
): CorrelateCliOptions {
  const out: Record<string, unknown> = {
    timeoutSeconds: argv.timeout,
    memoryBudgetMiB: argv['memory-budget'],
    maxPending: argv['max-pending'],
  };
  for (const descriptor of registry) {
    for (const option of descriptor.options ?? []) out[camelCase(option.flag)] = argv[option.flag];
    const flag = timeoutFlag(descriptor);
    out[camelCase(flag)] = argv[flag];
  }
  return out as CorrelateCliOptions;
}
