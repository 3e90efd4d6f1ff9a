/**
 * The span object handed straight to the OTLP exporter: sdk-trace's ReadableSpan contract,
 * built once per exported pair with no SDK Span machinery (see sdk.ts on why).
 */
import fs from 'node:fs';
import type { Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

function packageVersion(): string {
  try {
    const text = fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    return String((JSON.parse(text) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
}

/** The instrumentation scope of every span and metric: one object, so spans group into one ScopeSpans. */
export const kScope: InstrumentationScope = { name: 'wirespan', version: packageVersion() };
const kNoLinks: Link[] = [];
const kNoEvents: TimedEvent[] = [];

/** A pair's span, handed straight to the OTLP exporter (the ReadableSpan contract of sdk-trace). */
export class PairSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links = kNoLinks;
  readonly events = kNoEvents;
  readonly duration: HrTime;
  readonly ended = true;
  readonly resource: Resource;
  readonly instrumentationScope = kScope;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;

  constructor(
    name: string,
    kind: SpanKind,
    spanContext: SpanContext,
    parent: SpanContext | undefined,
    startTime: HrTime,
    endTime: HrTime,
    durationNanos: number,
    status: SpanStatus,
    attributes: Attributes,
    resource: Resource,
  ) {
    this.name = name;
    this.kind = kind;
    this.#context = spanContext;
    this.parentSpanContext = parent;
    this.startTime = startTime;
    this.endTime = endTime;
    this.duration = [Math.floor(durationNanos / 1e9), durationNanos % 1e9];
    this.status = status;
    this.attributes = attributes;
    this.resource = resource;
  }

  spanContext(): SpanContext {
    return this.#context;
  }
}
