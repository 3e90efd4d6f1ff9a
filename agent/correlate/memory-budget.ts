/**
 * The memory budget (`--memory-budget MIB`, default 512: half the chart's 1 GiB container
 * limit, leaving the rest to V8's garbage-collection headroom, young generation and code) and
 * its split into the caps of every table that grows with traffic. Each cap is its share of the
 * budget divided by the worst-case heap bytes one entry holds, so a flood that fills every
 * table at once still stays within the budget.
 *
 * | share | what | bytes per entry (worst case) | caps at 512 MiB |
 * |---|---|---|---|
 * | 20 % | reserve: runtime, output and export buffers | | |
 * | 5 % | incomplete HTTP heads and DNS-over-TCP messages held by the parsers (maxParserBufferBytesTotal) | | 25.6 MiB |
 * | 50 % | pending requests of every protocol, split by the descriptors' weights (`pending` in each protocol's index.ts) | bytesPerEntry | |
 *   (each protocol's weight and bytes per entry, and the resulting caps at 512 MiB: the table in
 *   docs/operating.md "Memory budget", kept true by test/correlate/memory-budget.test.ts)
 * | 15 % | TCP connections tracked by reassembly | kConnectionOverheadBytes + 1,024 (HTTP/DNS parser state) | 39,321 |
 * | 10 % | out-of-order bytes held by reassembly (maxBufferedBytesTotal) | | 51.2 MiB |
 *
 * Measured bytes: `node --expose-gc test/tools/pending-memory.ts` (docs/operating.md "Memory budget"). An explicit
 * `--max-pending N` overrides the derived pending caps (every protocol gets N). With worker
 * threads, each worker gets its share of every count cap (agent/pipeline/worker-main.ts), so the
 * total stays within the one budget.
 */
import type { CorrelateOptions } from './options.ts';
import type { ProtocolRegistry } from './protocol.ts';
import { matcherRegistry } from './registry.ts';
import {
  defaultTcpReassemblyOptions,
  kConnectionOverheadBytes,
  type TcpReassemblyOptions,
} from './tcp-stream/reassembly.ts';

/** Default budget in MiB: half of the chart's 1 GiB memory limit. */
export const kDefaultMemoryBudgetMiB = 512;
/** The smallest budget accepted (every cap stays well above 1). */
export const kMinMemoryBudgetMiB = 16;

/** Shares of the budget besides the pending tables. */
const kFixedShares = { reserve: 0.2, parserBuffers: 0.05, connections: 0.15, buffered: 0.1 } as const;
/** Share of all pending tables together, split by the protocols' weights. */
export const kPendingShare = 0.5;

/** Each protocol's share of the budget for its pending table, by name. */
export function pendingShares(registry: ProtocolRegistry = matcherRegistry): Record<string, number> {
  let totalWeight = 0;
  for (const descriptor of registry) totalWeight += descriptor.pending?.weight ?? 0;
  const shares: Record<string, number> = {};
  for (const descriptor of registry) {
    if (descriptor.pending !== undefined)
      shares[descriptor.name] = (kPendingShare * descriptor.pending.weight) / totalWeight;
  }
  return shares;
}

/** Shares of the budget (they add up to 1): the fixed ones and the registry's pending tables. */
export const kMemoryBudgetShares: Readonly<Record<string, number>> & typeof kFixedShares = {
  ...kFixedShares,
  ...pendingShares(),
};

/** Worst-case heap bytes per pending entry, by protocol (from the descriptors, see the table above). */
export const kBytesPerPending: Readonly<Record<string, number>> = Object.fromEntries(
  matcherRegistry.flatMap((d) => (d.pending === undefined ? [] : [[d.name, d.pending.bytesPerEntry]])),
);

/** Parser state of a connection on top of reassembly's own (HTTP framers and queue, DNS stream buffer). */
export const kStreamParserBytesPerConnection = 1024;

const kMiB = 1024 * 1024;

export interface MemoryBudgetCaps {
  maxPending: CorrelateOptions['maxPending'];
  reassembly: TcpReassemblyOptions;
}

/** The caps a budget of `mib` MiB allows (count caps for one correlator; worker-main.ts divides them). */
export function capsForMemoryBudget(
  mib: number,
  registry: ProtocolRegistry = matcherRegistry,
): MemoryBudgetCaps {
  if (!(mib >= kMinMemoryBudgetMiB) || !Number.isFinite(mib)) {
    throw new RangeError(`memory budget must be at least ${kMinMemoryBudgetMiB} MiB, got ${mib}`);
  }
  const bytes = mib * kMiB;
  const entries = (fraction: number, perEntry: number) =>
    Math.max(1, Math.floor((bytes * fraction) / perEntry));
  const reassembly = defaultTcpReassemblyOptions();
  reassembly.maxConnections = entries(
    kFixedShares.connections,
    kConnectionOverheadBytes + kStreamParserBytesPerConnection,
  );
  reassembly.maxBufferedBytesTotal = Math.floor(bytes * kFixedShares.buffered);
  reassembly.maxParserBufferBytesTotal = Math.floor(bytes * kFixedShares.parserBuffers);
  const shares = pendingShares(registry);
  const maxPending: Record<string, number> = {};
  for (const descriptor of registry) {
    if (descriptor.pending === undefined) continue;
    maxPending[descriptor.name] = entries(shares[descriptor.name]!, descriptor.pending.bytesPerEntry);
  }
  return { maxPending, reassembly };
}

/**
 * Sets `options`' pending and reassembly caps from a budget of `mib` MiB; `maxPendingOverride`
 * (the explicit `--max-pending`) replaces the derived pending caps when given.
 */
export function applyMemoryBudget(
  options: CorrelateOptions,
  mib: number,
  maxPendingOverride?: number,
  registry: ProtocolRegistry = matcherRegistry,
): void {
  const caps = capsForMemoryBudget(mib, registry);
  options.reassembly = caps.reassembly;
  if (maxPendingOverride !== undefined) {
    for (const name of Object.keys(caps.maxPending)) caps.maxPending[name] = maxPendingOverride;
  }
  options.maxPending = caps.maxPending;
}

/**
 * One worker's share of the count caps when `workers` correlators split the traffic (each
 * sees about 1/workers of the flows): the total stays the configured bound. Per-direction
 * caps are per connection and stay as they are.
 */
export function shareForWorker(options: CorrelateOptions, workers: number): void {
  for (const [name, cap] of Object.entries(options.maxPending)) {
    options.maxPending[name] = Math.max(1, Math.ceil(cap / workers));
  }
  const reassembly = options.reassembly;
  reassembly.maxConnections = Math.max(1, Math.ceil(reassembly.maxConnections / workers));
  reassembly.maxBufferedBytesTotal = Math.max(
    reassembly.maxBufferedBytesPerDirection,
    Math.ceil(reassembly.maxBufferedBytesTotal / workers),
  );
  // At least two whole maximal HTTP heads per worker.
  reassembly.maxParserBufferBytesTotal = Math.max(
    2 * 64 * 1024,
    Math.ceil(reassembly.maxParserBufferBytesTotal / workers),
  );
}
