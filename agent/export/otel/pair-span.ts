/**
 * The span object handed straight to the OTLP exporter: sdk-trace's ReadableSpan contract,
 * built once per exported pair with no SDK Span machinery (see sdk.ts on why).
 */
import type { Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { kPackageVersion } from '../../shared/package-info.ts';
import { SpanStatusCode, TraceFlags } from './api-enums.ts';
import { kSpanIdBytes, kTraceIdBytes } from './span-ids.ts';

/** The instrumentation scope of every span and metric: one object, so spans group into one ScopeSpans. */
export const kScope: InstrumentationScope = { name: 'wirespan', version: kPackageVersion };
const kNoLinks: Link[] = [];
const kNoEvents: TimedEvent[] = [];
/** A pair span's status: one object per code, shared by every span. */
export const kStatusUnset: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
export const kStatusError: SpanStatus = Object.freeze({ code: SpanStatusCode.ERROR });

/**
 * A pair's span, handed straight to the OTLP exporter (the ReadableSpan contract of sdk-trace).
 * Its ids are bytes (`ids` at `idAt`: trace id, then span id; span-ids.ts), copied as they are
 * by the OTLP encoder; spanContext() makes their hex strings only when asked. Its times are
 * numbers, read as they are by the OTLP encoder; startTime, endTime and duration make their
 * HrTime arrays only when asked (three arrays per span otherwise). Always sampled.
 */
export class PairSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  /** Capture time of the start and end: whole seconds and nanoseconds (0-999,999,999). */
  readonly startSeconds: number;
  readonly startNanos: number;
  readonly endSeconds: number;
  readonly endNanos: number;
  /** end - start, exact integer nanoseconds. */
  readonly durationNanos: number;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly resource: Resource;
  /** Trace id (16 bytes) then span id (8 bytes), from `idAt`; never changed. */
  readonly ids: Buffer;
  readonly idAt: number;
  #context: SpanContext | undefined = undefined;

  constructor(
    name: string,
    kind: SpanKind,
    ids: Buffer,
    idAt: number,
    parent: SpanContext | undefined,
    startSeconds: number,
    startNanos: number,
    endSeconds: number,
    endNanos: number,
    durationNanos: number,
    status: SpanStatus,
    attributes: Attributes,
    resource: Resource,
  ) {
    this.name = name;
    this.kind = kind;
    this.ids = ids;
    this.idAt = idAt;
    this.parentSpanContext = parent;
    this.startSeconds = startSeconds;
    this.startNanos = startNanos;
    this.endSeconds = endSeconds;
    this.endNanos = endNanos;
    this.durationNanos = durationNanos;
    this.status = status;
    this.attributes = attributes;
    this.resource = resource;
  }

  // The same for every pair span: on the prototype, not in each span object.
  get links(): Link[] {
    return kNoLinks;
  }

  get events(): TimedEvent[] {
    return kNoEvents;
  }

  get ended(): boolean {
    return true;
  }

  get instrumentationScope(): InstrumentationScope {
    return kScope;
  }

  get droppedAttributesCount(): number {
    return 0;
  }

  get droppedEventsCount(): number {
    return 0;
  }

  get droppedLinksCount(): number {
    return 0;
  }

  get startTime(): HrTime {
    return [this.startSeconds, this.startNanos];
  }

  get endTime(): HrTime {
    return [this.endSeconds, this.endNanos];
  }

  get duration(): HrTime {
    return [Math.floor(this.durationNanos / 1e9), this.durationNanos % 1e9];
  }

  spanContext(): SpanContext {
    const at = this.idAt;
    this.#context ??= {
      traceId: this.ids.toString('hex', at, at + kTraceIdBytes),
      spanId: this.ids.toString('hex', at + kTraceIdBytes, at + kTraceIdBytes + kSpanIdBytes),
      traceFlags: TraceFlags.SAMPLED,
    };
    return this.#context;
  }
}
