/**
 * Correlation settings with their defaults. The CLI and config files fill these in; each
 * protocol declares its own fields on ProtocolOptions (module augmentation in its folder) and
 * their defaults in its descriptor's option specs (protocol.ts).
 */
import { applyMemoryBudget, kDefaultMemoryBudgetMiB } from './memory-budget.ts';
import type { ProtocolOption, ProtocolRegistry } from './protocol.ts';
import { matcherRegistry } from './registry.ts';
import type { TcpReassemblyOptions } from './tcp-stream/reassembly.ts';

/** The protocols' own settings: each protocol folder adds its fields (`declare module '../options.ts'`). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation in the protocol folders.
export interface ProtocolOptions {}

export interface CorrelateOptions extends ProtocolOptions {
  /** How long a request may wait for its response, in capture-time nanoseconds, by protocol name. */
  timeoutNanos: Record<string, number>;
  /**
   * Hard cap of pending requests by protocol name; the oldest is evicted (and counted) beyond it.
   * Default: derived from the memory budget (memory-budget.ts).
   */
  maxPending: Record<string, number>;
  /** TCP reassembly caps (stream protocols). Default: derived from the memory budget. */
  reassembly: TcpReassemblyOptions;
}

/** Default timeout of every protocol (`--timeout`), in seconds of capture time. */
export const kDefaultTimeoutSeconds = 30;

/** The options with every protocol's defaults (from its option specs) and the default memory budget. */
export function defaultCorrelateOptions(registry: ProtocolRegistry = matcherRegistry): CorrelateOptions {
  const options = { timeoutNanos: {}, maxPending: {}, reassembly: {} } as CorrelateOptions;
  for (const descriptor of registry) {
    options.timeoutNanos[descriptor.name] = kDefaultTimeoutSeconds * 1_000_000_000;
    for (const option of descriptor.options ?? []) applyOption(option, options, option.default);
  }
  applyMemoryBudget(options, kDefaultMemoryBudgetMiB, undefined, registry);
  return options;
}

/** Applies a value of one option spec (its type decides the value's type). */
export function applyOption(option: ProtocolOption, options: CorrelateOptions, value: unknown): void {
  switch (option.type) {
    case 'boolean':
      option.apply(options, value as boolean);
      break;
    case 'ports':
      option.apply(options, [...(value as number[])]);
      break;
    case 'list':
      option.apply(options, [...(value as string[])]);
      break;
    case 'choice':
      option.apply(options, value as string);
      break;
  }
}
