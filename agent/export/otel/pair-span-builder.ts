/**
 * Pair -> span: the flood guard, the mapper, the sampler, ids, the attribute value length limit
 * and the per-service Resource, in one place for both span paths: the main thread's exporter
 * (sdk.ts, `--workers 0` and the pair objects it is given) and the workers' encoder
 * (span-request-encoder.ts). The same code either way, so both paths make the same spans
 * (ids aside, which are random).
 *
 * Its configuration (PairSpanConfig) is plain data, so the main thread can hand it to workers:
 * sdk.ts builds it once (the detected resource's shared attributes included) and exposes it as
 * `OtelExporter.spanConfig`.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ProtocolRegistry } from '../../correlate/protocol.ts';
import { matcherRegistry } from '../../correlate/registry.ts';
import type { AddressLookup } from '../../enrich/kubernetes/address-table.ts';
import { SpanStatusCode, TraceFlags } from './api-enums.ts';
import { type IgnoreRules, PairIgnore } from './pair-ignore.ts';
import { kStatusError, kStatusUnset, PairSpan } from './pair-span.ts';
import { serviceResource } from './resource.ts';
import { PairSampler, traceIdBytesFraction, traceIdFraction } from './sampler.ts';
import { BoundedCache, type ServiceMapEntry } from './service-map.ts';
import { type FloodAggregate, SpanFloodGuard } from './span-flood.ts';
import { SpanIdPool } from './span-ids.ts';
import {
  emptyMappedPair,
  type MappedPair,
  type MetricPoint,
  type PairData,
  SpanMapper,
} from './span-mapper.ts';

/** Structured-cloneable: what a worker needs to make the exporter's spans. */
export interface PairSpanConfig {
  localNetworks: readonly string[];
  serviceMap: readonly ServiceMapEntry[];
  httpRoutes: readonly string[];
  /** Identifier-like path segments become placeholders when no route matches (http-route-heuristics.ts). */
  httpRouteHeuristics: boolean;
  /** Pairs that make no span and no latency point (pair-ignore.ts). */
  ignore: IgnoreRules;
  /** Protocols (registry names) whose pairs export no span; their latency is still recorded. */
  spansOff: readonly string[];
  sampleRatio: number;
  slowSpanSeconds: number | null;
  maxServices: number;
  /** String attribute values are cut to this many characters (Infinity: no limit). */
  valueLengthLimit: number;
  unansweredSpansPerSecond: number;
  unansweredSpansTotalPerSecond: number | undefined;
  /** How late unanswered pairs arrive (span-flood.ts floodLateSeconds()); undefined = the guard's default. */
  unansweredLateSeconds: number | undefined;
  /** The detected resource's attributes every service resource shares (resource.ts sharedAttributes()). */
  sharedResourceAttributes: Attributes;
  /** false: only metrics and counts (OTEL_TRACES_EXPORTER=none). */
  traces: boolean;
}

/** What the builder counts (cumulative). */
export interface PairSpanCounts {
  sampledOut: number;
  /** Pairs matching an ignore rule: no span, no latency point. */
  ignored: number;
  invalidTraceparents: number;
  droppedMappingError: number;
  /** The first mapping error's message. */
  lastMappingError: string | null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Cuts string attribute values to `limit` characters, as the SDK's attributeValueLengthLimit does. */
function truncateStrings(attributes: Attributes, limit: number): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (typeof value === 'string' && value.length > limit) attributes[key] = value.slice(0, limit);
  }
}

/**
 * By protocol id: 1 for each protocol named in `names`. Throws an Error naming the option and
 * the known protocols for an unknown name.
 */
export function protocolFlags(
  registry: ProtocolRegistry,
  names: readonly string[],
  option: string,
): Uint8Array {
  const flags = new Uint8Array(registry.length);
  for (const name of names) {
    const id = registry.findIndex((descriptor) => descriptor.name === name);
    if (id < 0) {
      throw new Error(
        `${option}: unknown protocol ${JSON.stringify(name)} (known: ${registry.map((d) => d.name).join(', ')})`,
      );
    }
    flags[id] = 1;
  }
  return flags;
}

export class PairSpanBuilder {
  readonly counts: PairSpanCounts = {
    sampledOut: 0,
    ignored: 0,
    invalidTraceparents: 0,
    droppedMappingError: 0,
    lastMappingError: null,
  };
  readonly #config: PairSpanConfig;
  readonly #mapper: SpanMapper;
  /** Where emit() maps each pair (nothing in it outlives the call but its attributes and metric). */
  readonly #mapped = emptyMappedPair();
  readonly #sampler: PairSampler;
  readonly #flood: SpanFloodGuard;
  readonly #resources: BoundedCache<Resource, MappedPair>;
  readonly #ids = new SpanIdPool();
  readonly #onSpan: (span: PairSpan) => void;
  readonly #onMetric: ((metric: MetricPoint) => void) | null;
  readonly #kubernetes: AddressLookup | null;
  readonly #ignore: PairIgnore | null;
  /** By protocol id: 1 when its spans are off. */
  readonly #spansOff: Uint8Array;

  /**
   * `onSpan` receives each span to export (flood aggregates too); `onMetric` each latency point
   * (matched pairs, sampled or not). `kubernetes`: this thread's address identities (`--kubernetes`).
   * `floodStamp`: stamps each flood aggregate as it starts (SpanFloodOptions.stamp; the exporter's
   * checkpoint hold).
   */
  constructor(
    config: PairSpanConfig,
    sourceFiles: ((fileId: number) => string | undefined) | null,
    onSpan: (span: PairSpan) => void,
    onMetric: ((metric: MetricPoint) => void) | null,
    kubernetes: AddressLookup | null = null,
    floodStamp: (() => number) | null = null,
  ) {
    this.#config = config;
    this.#mapper = new SpanMapper({
      localNetworks: config.localNetworks,
      serviceMap: config.serviceMap,
      httpRoutes: config.httpRoutes,
      httpRouteHeuristics: config.httpRouteHeuristics,
      sourceFiles,
      kubernetes,
    });
    this.#sampler = new PairSampler({ ratio: config.sampleRatio, slowSeconds: config.slowSpanSeconds });
    const shared = config.sharedResourceAttributes;
    this.#resources = new BoundedCache<Resource, MappedPair>(config.maxServices, (_key, mapped) =>
      serviceResource(shared, mapped.serviceName, mapped.serviceAttributes),
    );
    this.#flood = new SpanFloodGuard(
      {
        perInterval: config.unansweredSpansPerSecond,
        totalPerInterval: config.unansweredSpansTotalPerSecond,
        lateSeconds: config.unansweredLateSeconds,
        stamp: floodStamp,
      },
      (aggregate) => this.#aggregate(aggregate),
    );
    this.#onSpan = onSpan;
    this.#onMetric = onMetric;
    this.#kubernetes = kubernetes;
    const ignore = new PairIgnore(config.ignore);
    this.#ignore = ignore.active ? ignore : null;
    this.#spansOff = protocolFlags(matcherRegistry, config.spansOff, 'spansOff');
  }

  /** Maps, samples and hands on one pair; never throws (a mapping error, or onSpan's, is counted). */
  emit(pair: PairData): void {
    try {
      if (this.#ignore?.ignores(pair)) {
        this.counts.ignored++;
        return;
      }
      if (!this.#flood.admit(pair)) return; // counted into its source's `unanswered flood` span
      const mapped = this.#mapper.mapInto(pair, this.#mapped);
      if (mapped.invalidTraceparent) this.counts.invalidTraceparents++;
      if (mapped.metric !== null) this.#onMetric?.(mapped.metric);
      if (!this.#config.traces || this.#spansOff[this.#mapper.protocolId(pair)] === 1) return;
      const parent = mapped.parent;
      const isError = mapped.statusCode === SpanStatusCode.ERROR;
      const idAt = this.#ids.take();
      const ids = this.#ids.pool;
      // A joined trace keeps its id (written over the random one); else the new random one.
      if (parent !== null) ids.write(parent.traceId, idAt, 'hex');
      const keep = this.#sampler.shouldKeep({
        traceFraction: parent === null ? traceIdBytesFraction(ids, idAt) : traceIdFraction(parent.traceId),
        isError,
        durationNanos: mapped.durationNanos,
        parentSampled: parent === null ? null : (parent.flags & TraceFlags.SAMPLED) !== 0,
      });
      if (!keep) {
        this.counts.sampledOut++;
        return;
      }
      const limit = this.#config.valueLengthLimit;
      if (limit !== Number.POSITIVE_INFINITY) truncateStrings(mapped.attributes, limit);
      this.#onSpan(
        new PairSpan(
          mapped.name,
          mapped.kind,
          ids,
          idAt,
          parent === null
            ? undefined
            : {
                traceId: parent.traceId,
                spanId: parent.parentSpanId,
                traceFlags: parent.flags & 0xff,
                isRemote: true,
              },
          mapped.startSeconds,
          mapped.startNanos,
          mapped.endSeconds,
          mapped.endNanos,
          mapped.durationNanos,
          isError ? kStatusError : kStatusUnset,
          mapped.attributes,
          this.#resources.get(mapped.resourceKey, mapped),
        ),
      );
    } catch (error) {
      this.counts.droppedMappingError++;
      this.counts.lastMappingError ??= messageOf(error);
    }
  }

  /** The oldest stamp of the flood aggregates not yet emitted (SpanFloodGuard.oldestPendingStamp). */
  get oldestPendingFloodStamp(): number {
    return this.#flood.oldestPendingStamp;
  }

  /** Emits the flood aggregates still open (at the end of input or shutdown). */
  flush(): void {
    this.#flood.flush();
    this.#kubernetes?.flush?.();
  }

  /** An `unanswered flood` span (also from flush(), outside emit()'s catch: it counts its own errors). */
  #aggregate(a: FloodAggregate): void {
    if (!this.#config.traces || this.#spansOff[this.#mapper.protocolId(a.firstPair)] === 1) return;
    try {
      const resource = this.#mapper.map(a.firstPair);
      const idAt = this.#ids.take();
      this.#onSpan(
        new PairSpan(
          a.name,
          a.kind,
          this.#ids.pool,
          idAt,
          undefined,
          a.startTime[0],
          a.startTime[1],
          a.endTime[0],
          a.endTime[1],
          a.durationNanos,
          { code: a.statusCode },
          a.attributes,
          this.#resources.get(resource.resourceKey, resource),
        ),
      );
    } catch (error) {
      this.counts.droppedMappingError++;
      this.counts.lastMappingError ??= messageOf(error);
    }
  }
}
