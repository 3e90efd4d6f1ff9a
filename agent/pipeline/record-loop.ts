/**
 * The one read -> decode -> correlate loop body: every capture record, from whichever source
 * (finished files on this thread, a tailed directory on this thread, or a worker's chunk
 * ring), goes through record(). It counts the record, moves the capture clock, decodes it and
 * hands a decoded packet to the correlator, whose pairs go to the sink the command configured.
 * `--workers 0` runs one RecordLoop on this thread; each worker runs one for its shard, so the
 * counts, the clock and the pairs are made the same way in both.
 *
 * Sharding (workers > 1): a record whose raw flow hash (decode/flow-hash.ts) names another
 * shard is not decoded: it only advances the correlator's clock (rawFlowShard() classifies only
 * records the decoder would take to TCP/UDP, so every shard counts exactly the records one
 * thread counts as decoded, and expiry, therefore the output, is the same whatever the worker
 * count). Relay matching shards by payload, which needs every record decoded.
 */
import type { CaptureRecord } from '../capture/record.ts';
import { Correlator } from '../correlate/correlator.ts';
import type { CorrelateOptions } from '../correlate/options.ts';
import type { PairSink } from '../correlate/pair.ts';
import type { ProtocolRegistry } from '../correlate/protocol.ts';
import { matcherRegistry } from '../correlate/registry.ts';
import { decodePacket } from '../decode/decoder.ts';
import { kUnclassified, rawFlowShard } from '../decode/flow-hash.ts';
import { DecodedPacket, Layer } from '../decode/packet.ts';
import { SkipCounters } from '../shared/skips.ts';
import type { WorkerStats } from './messages.ts';

export interface RecordLoopOptions {
  /** This loop's shard of the flows (default: the only one). */
  shard?: { index: number; count: number };
  /** Track the oldest and newest capture time of the records counted decoded (`report`'s time range). */
  decodedTimes?: boolean;
  /** The protocols (default: registry.ts). */
  registry?: ProtocolRegistry;
}

/** What takes the decoded packets: the correlator (tests may give a bare packet consumer). */
export interface PacketConsumer {
  onPacket: Correlator['onPacket'];
  /** Moves the clock for a record of another shard (needed only when sharding). */
  advanceTime?: Correlator['advanceTime'];
  /** All input has been read. */
  finish(): void;
  /** For stats (a Correlator has them). */
  counts?: Correlator['counts'];
  pending?: Correlator['pending'];
  skips?: SkipCounters;
  captureLoss?: Correlator['captureLoss'];
  /** Correlator.quiet (a bare consumer has none: its packets are never read again). */
  quiet?: boolean;
}

// Counts and times in typed arrays: epoch seconds and byte totals are no small integers, and
// an object field holding one would allocate at every write.
const kPackets = 0;
const kDecoded = 1;
const kBytes = 2;

/** True when capture time (seconds, nanos) is after (thanSeconds, thanNanos). */
export function isLater(seconds: number, nanos: number, thanSeconds: number, thanNanos: number): boolean {
  return seconds > thanSeconds || (seconds === thanSeconds && nanos > thanNanos);
}

/** Stores (seconds, nanos) at times[at], times[at + 1] when it is later than the time there. */
function keepLatest(times: Float64Array, at: number, seconds: number, nanos: number): void {
  if (!isLater(seconds, nanos, times[at]!, times[at + 1]!)) return;
  times[at] = seconds;
  times[at + 1] = nanos;
}

/** Stores (seconds, nanos) at times[at], times[at + 1] when it is earlier than the time there. */
function keepEarliest(times: Float64Array, at: number, seconds: number, nanos: number): void {
  if (!isLater(times[at]!, times[at + 1]!, seconds, nanos)) return;
  times[at] = seconds;
  times[at + 1] = nanos;
}

export class RecordLoop {
  readonly consumer: PacketConsumer;
  /** Reader and decoder skips: sources pass these to the CaptureReaders they open. */
  readonly inputSkips = new SkipCounters();
  /** The last record's packet, as far as it decoded (not touched by a record of another shard). */
  readonly packet = new DecodedPacket();
  /** Records, records decoded to TCP/UDP (or skipped as another shard's), bytes. */
  readonly #counts = new Float64Array(3);
  /** [seconds, nanos] of the newest record; seconds -1 before the first. */
  readonly #newest = new Float64Array([-1, 0]);
  /** [oldest seconds, nanos, newest seconds, nanos] of the records counted decoded (WorkerStats.decodedRange). */
  readonly #decodedRange = new Float64Array([Number.POSITIVE_INFINITY, 0, -1, 0]);
  readonly #trackDecoded: boolean;
  /** Records of other flow shards are not decoded (false: one shard, or shards by payload). */
  readonly #skipOtherShards: boolean;
  readonly #shardIndex: number;
  readonly #shardCount: number;
  #quiet = false;

  /** The loop of a correlator (of `shard`) whose pairs go to `sink`. */
  static correlating(
    options: CorrelateOptions,
    sink: PairSink,
    loopOptions: RecordLoopOptions = {},
  ): RecordLoop {
    const shard = loopOptions.shard ?? { index: 0, count: 1 };
    const registry = loopOptions.registry ?? matcherRegistry;
    const correlator = new Correlator(options, sink, new SkipCounters(), registry, shard);
    const byFlow = !registry.some((d) => d.shardBy === 'payload' && d.enabled(options));
    return new RecordLoop(correlator, byFlow ? shard : null, loopOptions.decodedTimes === true);
  }

  constructor(
    consumer: PacketConsumer,
    flowShard: { index: number; count: number } | null = null,
    decodedTimes = false,
  ) {
    this.consumer = consumer;
    this.#trackDecoded = decodedTimes;
    this.#shardIndex = flowShard?.index ?? 0;
    this.#shardCount = flowShard?.count ?? 1;
    this.#skipOtherShards = this.#shardCount > 1;
  }

  /**
   * Quiet: the records are read again after a restart to rebuild the requests pending at the
   * checkpoint (tail.ts): they were counted, and their pairs passed on, before it. They are
   * correlated as usual, but neither counted nor any pair they finish passed on.
   */
  get quiet(): boolean {
    return this.#quiet;
  }

  set quiet(quiet: boolean) {
    this.#quiet = quiet;
    if (this.consumer.quiet !== undefined) this.consumer.quiet = quiet;
  }

  /** Processes one record of file `fileId` (valid only during the call: the reader reuses it). */
  record(fileId: number, record: CaptureRecord): void {
    const counts = this.#counts;
    const seconds = record.seconds;
    const nanos = record.nanos;
    if (!this.#quiet) {
      counts[kPackets] = counts[kPackets]! + 1;
      counts[kBytes] = counts[kBytes]! + record.capturedLength;
    }
    keepLatest(this.#newest, 0, seconds, nanos);
    if (this.#skipOtherShards) {
      const shard = rawFlowShard(
        record.data,
        record.offset,
        record.capturedLength,
        record.linkType,
        this.#shardCount,
      );
      if (shard !== kUnclassified && shard !== this.#shardIndex) {
        this.#countDecoded(seconds, nanos);
        this.consumer.advanceTime?.(seconds, nanos);
        return;
      }
    }
    const packet = this.packet;
    decodePacket(record.data, record.offset, record.capturedLength, record.linkType, packet, this.inputSkips);
    if (packet.stopLayer !== Layer.Complete) return;
    this.#countDecoded(seconds, nanos);
    this.consumer.onPacket(fileId, record.packetNumber, seconds, nanos, record.data, packet);
  }

  #countDecoded(seconds: number, nanos: number): void {
    if (this.#quiet) return;
    this.#counts[kDecoded] = this.#counts[kDecoded]! + 1;
    if (!this.#trackDecoded) return;
    keepEarliest(this.#decodedRange, 0, seconds, nanos);
    keepLatest(this.#decodedRange, 2, seconds, nanos);
  }

  /** End of input: pending requests are reported unanswered (end_of_input). */
  finish(): void {
    this.consumer.finish();
  }

  /** Cumulative counters, as plain data (what a worker posts; `withInputSkips` false: another loop reports them). */
  stats(withInputSkips = true): WorkerStats {
    const counts = this.#counts;
    const consumer = this.consumer;
    const pairs: WorkerStats['pairs'] = {};
    for (const [protocol, pairCounts] of consumer.counts ?? []) pairs[protocol] = structuredClone(pairCounts);
    return {
      packets: counts[kPackets]!,
      decoded: counts[kDecoded]!,
      bytes: counts[kBytes]!,
      inputSkips: withInputSkips ? this.inputSkips.toObject() : {},
      correlatorSkips: consumer.skips?.toObject() ?? {},
      pairs,
      pending: consumer.pending?.() ?? {},
      newestCaptureSeconds: this.#newest[0]!,
      newestCaptureNanos: this.#newest[1]!,
      decodedRange: this.#decodedRange[2]! >= 0 ? [...this.#decodedRange] : null,
      ...(consumer.captureLoss === undefined ? {} : captureLossStats(consumer.captureLoss)),
    };
  }
}

/** The capture-loss fields of WorkerStats: the run's counts and, flattened, each file's. */
function captureLossStats(
  loss: Correlator['captureLoss'],
): Pick<WorkerStats, 'captureLoss' | 'captureLossByFile'> {
  return {
    captureLoss: loss.counts.toData(),
    captureLossByFile: [...loss.countsByFile()].flatMap(([fileId, c]) => [
      fileId,
      c.observedBytes,
      c.observedSegments,
      c.missingBytes,
      c.missingSegments,
    ]),
  };
}
