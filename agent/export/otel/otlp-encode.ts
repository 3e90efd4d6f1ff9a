/**
 * ReadableSpan[] → OTLP `ExportTraceServiceRequest` protobuf bytes, written by hand into reused
 * growable buffers: wirespan's replacement for otlp-transformer's ProtobufTraceSerializer
 * (its requests handed to the official gRPC transport by otlp-bytes-exporter.ts).
 *
 * Same message, same field order, same canonical encoding as the SDK serializer (the
 * equivalence test decodes both with the receiver's protos and compares them span by span; with
 * otlp-transformer 0.301.0 the bytes are even identical):
 * one ResourceSpans per Resource object and one ScopeSpans per scope object within it, in first
 * appearance order; exact ns times; ids, parent, trace state, kind, status, flags (with the
 * is-remote bits), attributes of every AnyValue type, events, links, dropped counts, resource
 * attributes and schema URLs. What it does differently, for speed:
 * - one pass: a length-delimited message reserves the bytes its length usually needs (2 for a
 *   span, 4 for a ScopeSpans or ResourceSpans, 1 for small nested ones) and is shifted only when
 *   the final length needs another size (the SDK estimates the whole request in a first pass,
 *   then reserves 1 byte everywhere, so every span > 127 bytes is shifted);
 * - what repeats is encoded once: a Resource (the per-service ones live for the whole run) and a
 *   scope are cached as finished bytes per object (WeakMap); an attribute key as its KeyValue.key
 *   field (tag, length, UTF-8), up to kMaxCachedKeys keys;
 * - the common attributes (an ASCII string or an unsigned 32-bit integer, KeyValue under 128
 *   bytes) are written in one go, their three lengths computed first;
 * - a PairSpan's ids are copied as the bytes they are made as (span-ids.ts); other spans' ids go
 *   from hex straight into the buffer (the SDK allocates a Uint8Array per id).
 *
 * Spans are encoded one by one as they are made (add(), the workers and the main thread through
 * span-request-encoder.ts), each straight into the buffer of its (resource, scope) group, so the
 * span object is not needed once add() returns; take() then writes the request into a buffer of
 * its exact size, every length known beforehand (nothing shifted), one block copied per group
 * (a Buffer.copy per span cost ~2 us each, ~15 % of the main thread's span path). encode() is
 * add() of each span, then take(). Group buffers are reused across requests; take() returns a
 * buffer of its own (the transport may hold a request for its retries while the next one is
 * built): a fresh one, or one whose request was exported (request-buffers.ts).
 */
import type { Attributes, AttributeValue, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { grown } from '../../shared/typed-arrays.ts';
import { TraceFlags } from './api-enums.ts';
import { PairSpan } from './pair-span.ts';
import type { RequestBufferPool } from './request-buffers.ts';
import { kSpanIdBytes, kTraceIdBytes } from './span-ids.ts';

const kTwo32 = 4_294_967_296;
const kMinInt64 = -(2 ** 63);
const kMaxInt64 = 2 ** 63;
/** Attribute keys kept as encoded bytes; beyond, keys are encoded every time (a bound, not an expected size). */
const kMaxCachedKeys = 4096;
/** Attribute positions whose last key is remembered (#attributes). */
const kRecentKeys = 32;
/** A group's buffer when first used (grown by doubling). */
const kGroupCapacity = 16 << 10;
/** Group buffers grown beyond this in all (one huge request, or many services) are given back afterwards. */
const kKeepCapacity = 16 << 20;
/** The field scratch buffer's initial size (grown for a larger resource or scope). */
const kFieldScratch = 4 << 10;
const kSpanFlagsHasIsRemote = 0x100;
const kSpanFlagsIsRemote = 0x200;

/** Bytes of the varint encoding of a non-negative integer below 2^32. */
function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Hex digit values by character code ('0'-'9', 'a'-'f', 'A'-'F'; as otlp-transformer's hexToBinary for those). */
const kHex = new Uint8Array(128);
for (let c = 0; c < 128; c++) kHex[c] = c <= 0x39 ? c - 0x30 : c >= 0x61 ? c - 0x57 : c - 0x37;

export class OtlpTraceEncoder {
  /** Where a resource or scope field is encoded before it is cached. */
  #fieldScratch: Buffer = Buffer.allocUnsafeSlow(kFieldScratch);
  /** Where the encoding writes: a group's buffer while a span is encoded, else #fieldScratch. */
  #bytes: Buffer = this.#fieldScratch;
  #pos = 0;
  readonly #keys = new Map<string, Uint8Array>();
  /** By position in an attribute object: the key found there last, and its KeyValue.key field. */
  readonly #recentKeys: string[] = new Array<string>(kRecentKeys).fill('');
  readonly #recentKeyFields: Uint8Array[] = new Array<Uint8Array>(kRecentKeys).fill(new Uint8Array(0));
  /**
   * Span fields 10-16 of a PairSpan (no events, links or dropped counts, no status message; its
   * trace flags SAMPLED), by status code * 4 + flags >> 8 (the is-remote bits): made once each.
   */
  readonly #pairSpanTails: (Uint8Array | undefined)[] = [];
  /** ResourceSpans field 1 (tag, length, Resource message), per Resource object. */
  readonly #resources = new WeakMap<Resource, Uint8Array>();
  /** ScopeSpans field 1 (tag, length, InstrumentationScope message), per scope object. */
  readonly #scopes = new WeakMap<InstrumentationScope, Uint8Array>();

  // Groups are (resource, scope) pairs, numbered in first-appearance order per request.
  /** Per group number: its spans' Span fields, one after another (buffers reused across requests). */
  readonly #groupBytes: Buffer[] = [];
  /** Per group: the bytes of its spans in #groupBytes. */
  #groupEnd: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** The next group of the same resource (another scope), or -1. */
  #groupNextScope: Int32Array<ArrayBuffer> = new Int32Array(64);
  readonly #groupScope: InstrumentationScope[] = [];
  readonly #groupResource: Resource[] = [];
  /** Group index of each resource's first group, in first-appearance order. */
  readonly #resourceOrder: number[] = [];
  readonly #resourceGroup = new Map<Resource, number>();

  /** Where take() gets request buffers; null: a fresh one each time. */
  readonly #requestBuffers: RequestBufferPool | null;

  /** Spans added since the last take(). */
  #added = 0;
  /** The span added last: its group, and where its bytes start in the group's buffer. */
  #lastGroup = -1;
  #lastStart = 0;
  /** The request's size if taken now, at most (every length counted as 5 bytes). */
  #requestBound = 0;

  constructor(requestBuffers: RequestBufferPool | null = null) {
    this.#requestBuffers = requestBuffers;
  }

  /** The request for `spans` (a buffer of its own; empty for no spans, as the SDK serializer). */
  encode(spans: readonly ReadableSpan[]): Uint8Array {
    try {
      for (let i = 0; i < spans.length; i++) this.add(spans[i]!);
      return this.take();
    } finally {
      // After a throw (a span whose getter throws: the export fails, the encoder stays usable).
      this.#reset();
    }
  }

  /** Spans added since the last take(). */
  get added(): number {
    return this.#added;
  }

  /** An upper bound of the size of the request take() would return now. */
  get requestBound(): number {
    return this.#requestBound;
  }

  /**
   * Encodes one span into the request being built, straight into the buffer of its (resource,
   * scope) group, so take() copies one block per group: the span object is not needed any more
   * once this returns. A span that throws is left out whole.
   */
  add(span: ReadableSpan): void {
    const resource = span.resource;
    const scope = span.instrumentationScope;
    // A new group is made only once its first span is encoded; it gets the next number's buffer.
    const found = this.#findGroup(resource, scope);
    const target = found >= 0 ? found : this.#groupScope.length;
    const start = found >= 0 ? this.#groupEnd[found]! : 0;
    if (target === this.#groupBytes.length) this.#groupBytes.push(Buffer.allocUnsafeSlow(kGroupCapacity));
    this.#bytes = this.#groupBytes[target]!;
    this.#pos = start;
    try {
      this.#span(span);
    } finally {
      // The buffer may have grown.
      this.#groupBytes[target] = this.#bytes;
    }
    const end = this.#pos;
    if (found < 0) this.#requestBound += this.#newGroup(resource, scope);
    this.#groupEnd[target] = end;
    this.#lastGroup = target;
    this.#lastStart = start;
    this.#requestBound += end - start;
    this.#added++;
  }

  /**
   * The request of the spans added since the last take() (a buffer of its own; empty for no spans):
   * ResourceSpans in first-appearance order, then ScopeSpans, each group's spans in the order
   * added. With `leaveLast` (and more than one span added), the last span added is left out and
   * starts the next request.
   */
  take(leaveLast = false): Uint8Array {
    const left = leaveLast && this.#added > 1 ? this.#lastGroup : -1;
    const leftStart = this.#lastStart;
    const leftEnd = left >= 0 ? this.#groupEnd[left]! : 0;
    if (left >= 0) this.#groupEnd[left] = leftStart;
    const leftResource = left >= 0 ? this.#groupResource[left]! : null;
    const leftScope = left >= 0 ? this.#groupScope[left]! : null;

    // Lengths first (exact: no content is moved), then one pass into a buffer of the exact size.
    const order = this.#resourceOrder;
    const resourceLengths: number[] = [];
    const scopeLengths: number[] = [];
    let total = 0;
    for (let r = 0; r < order.length; r++) {
      const length = this.#resourceSpansLength(order[r]!, scopeLengths);
      resourceLengths.push(length);
      if (length > 0) total += 1 + varintSize(length) + length;
    }
    const out = this.#requestBuffers?.take(total) ?? Buffer.allocUnsafeSlow(total);
    let pos = 0;
    let scopeAt = 0;
    for (let r = 0; r < order.length; r++) {
      const length = resourceLengths[r]!;
      if (length === 0) continue;
      const first = order[r]!;
      const resource = this.#groupResource[first]!;
      out[pos++] = 0x0a;
      pos = putVarint(out, pos, length);
      const resourceField = this.#resourceField(resource);
      out.set(resourceField, pos);
      pos += resourceField.length;
      for (let g = first; g !== -1; g = this.#groupNextScope[g]!) {
        const spanBytes = this.#groupEnd[g]!;
        if (spanBytes === 0) continue;
        const scope = this.#groupScope[g]!;
        out[pos++] = 0x12;
        pos = putVarint(out, pos, scopeLengths[scopeAt++]!);
        const scopeField = this.#scopeField(scope);
        out.set(scopeField, pos);
        pos += scopeField.length;
        this.#groupBytes[g]!.copy(out, pos, 0, spanBytes);
        pos += spanBytes;
        pos = putSchemaUrl(out, pos, scope.schemaUrl);
      }
      pos = putSchemaUrl(out, pos, resource.schemaUrl);
    }

    if (left > 0) {
      // The span left out becomes the first of the next request, as group 0 (whose buffer #reset() keeps).
      const buffers = this.#groupBytes;
      const held = buffers[left]!;
      buffers[left] = buffers[0]!;
      buffers[0] = held;
    }
    this.#reset();
    if (left >= 0) {
      this.#groupBytes[0]!.copyWithin(0, leftStart, leftEnd);
      const size = leftEnd - leftStart;
      this.#requestBound = this.#newGroup(leftResource!, leftScope!) + size;
      this.#groupEnd[0] = size;
      this.#lastGroup = 0;
      this.#added = 1;
    }
    return out;
  }

  /** Forgets the request being built; gives back group buffers grown beyond kKeepCapacity in all. */
  #reset(): void {
    this.#resourceGroup.clear();
    this.#resourceOrder.length = 0;
    this.#groupResource.length = 0;
    this.#groupScope.length = 0;
    this.#added = 0;
    this.#lastGroup = -1;
    this.#lastStart = 0;
    this.#requestBound = 0;
    const buffers = this.#groupBytes;
    let capacity = 0;
    for (let g = 0; g < buffers.length; g++) capacity += buffers[g]!.length;
    if (capacity > kKeepCapacity) {
      // Group 0 only (it may be about to hold the span take() leaves for the next request).
      for (let g = 1; g < buffers.length; g++) buffers[g] = Buffer.allocUnsafeSlow(kGroupCapacity);
    }
  }
  /**
   * The ResourceSpans content length of the resource whose first group is `first` (0: no spans
   * left in it); pushes each non-empty ScopeSpans' content length onto `scopeLengths`.
   */
  #resourceSpansLength(first: number, scopeLengths: number[]): number {
    const resource = this.#groupResource[first]!;
    let length = 0;
    for (let g = first; g !== -1; g = this.#groupNextScope[g]!) {
      const spanBytes = this.#groupEnd[g]!;
      if (spanBytes === 0) continue;
      const scope = this.#groupScope[g]!;
      const scopeLength = this.#scopeField(scope).length + spanBytes + schemaUrlSize(scope.schemaUrl);
      scopeLengths.push(scopeLength);
      length += 1 + varintSize(scopeLength) + scopeLength;
    }
    if (length === 0) return 0;
    return length + this.#resourceField(resource).length + schemaUrlSize(resource.schemaUrl);
  }

  /** The group of (resource, scope) in the request being built, or -1. */
  #findGroup(resource: Resource, scope: InstrumentationScope): number {
    let group = this.#resourceGroup.get(resource);
    if (group === undefined) return -1;
    while (group !== -1 && this.#groupScope[group] !== scope) group = this.#groupNextScope[group]!;
    return group;
  }

  /**
   * Makes the next group number (resource, scope)'s group, chained after the resource's other
   * groups (or its resource added to the order); returns what its ScopeSpans (and a new
   * ResourceSpans) add to the request bound besides the spans.
   */
  #newGroup(resource: Resource, scope: InstrumentationScope): number {
    const group = this.#groupScope.length;
    if (group === this.#groupEnd.length) {
      this.#groupEnd = grown(this.#groupEnd, this.#groupEnd.length * 2);
      this.#groupNextScope = grown(this.#groupNextScope, this.#groupNextScope.length * 2);
    }
    this.#groupScope.push(scope);
    this.#groupResource.push(resource);
    this.#groupEnd[group] = 0;
    this.#groupNextScope[group] = -1;
    let bound = 6 + this.#scopeField(scope).length + schemaUrlSize(scope.schemaUrl);
    const first = this.#resourceGroup.get(resource);
    if (first === undefined) {
      this.#resourceGroup.set(resource, group);
      this.#resourceOrder.push(group);
      bound += 6 + this.#resourceField(resource).length + schemaUrlSize(resource.schemaUrl);
    } else {
      let last = first;
      while (this.#groupNextScope[last] !== -1) last = this.#groupNextScope[last]!;
      this.#groupNextScope[last] = group;
    }
    return bound;
  }

  /** ResourceSpans field 1 of `resource` (tag, length, Resource), cached or encoded aside. */
  #resourceField(resource: Resource): Uint8Array {
    return this.#resources.get(resource) ?? this.#encodedAside(() => this.#resource(resource));
  }

  /** ScopeSpans field 1 of `scope` (tag, length, InstrumentationScope), cached or encoded aside. */
  #scopeField(scope: InstrumentationScope): Uint8Array {
    return this.#scopes.get(scope) ?? this.#encodedAside(() => this.#scope(scope));
  }

  /** What `encode` writes, in the scratch buffer (the request being built is left as it is). */
  #encodedAside(encode: () => void): Uint8Array {
    const bytes = this.#bytes;
    const pos = this.#pos;
    this.#bytes = this.#fieldScratch;
    this.#pos = 0;
    try {
      encode();
      return Uint8Array.prototype.slice.call(this.#bytes, 0, this.#pos);
    } finally {
      this.#fieldScratch = this.#bytes;
      this.#bytes = bytes;
      this.#pos = pos;
    }
  }

  // --- buffer primitives ------------------------------------------------------------------

  /** Room for `n` more bytes (the check alone, small enough to be inlined everywhere). */
  #ensure(n: number): void {
    if (this.#pos + n > this.#bytes.length) this.#grow(n);
  }

  #grow(n: number): void {
    let capacity = this.#bytes.length * 2;
    while (capacity < this.#pos + n) capacity *= 2;
    const larger = Buffer.allocUnsafeSlow(capacity);
    this.#bytes.copy(larger, 0, 0, this.#pos);
    this.#bytes = larger;
  }

  /** A varint below 2^32. */
  #varint(value: number): void {
    this.#ensure(5);
    this.#varintRaw(value);
  }

  /** A varint below 2^32 into room already there (never grows the buffer: callers may have moved #pos back). */
  #varintRaw(value: number): void {
    const bytes = this.#bytes;
    let pos = this.#pos;
    let v = value >>> 0;
    while (v > 0x7f) {
      bytes[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    bytes[pos++] = v;
    this.#pos = pos;
  }

  /** An int64 varint of an integral number in [-2^63, 2^63) (negative: ten bytes, two's complement). */
  #varint64(value: number): void {
    if (value >= 0 && value < kTwo32) {
      this.#varint(value);
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / kTwo32) >>> 0;
    } else {
      const abs = -value;
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / kTwo32) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.#ensure(10);
    const bytes = this.#bytes;
    let pos = this.#pos;
    while (high > 0 || low > 0x7f) {
      bytes[pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    bytes[pos++] = low;
    this.#pos = pos;
  }

  #fixed32(value: number): void {
    this.#ensure(4);
    this.#uint32(value >>> 0);
  }

  /**
   * A time (whole seconds, nanoseconds) as the fixed64 ns since the epoch: exact, from 32-bit
   * halves (no BigInt), for seconds below 2^32 (year 2106; every product below stays under 2^53).
   * No floating-point remainder (a call to fmod each): the halves of an exact integer come from
   * `>>> 0` (its value modulo 2^32) and exact divisions by powers of two.
   */
  #time(seconds: number, nanos: number): void {
    // seconds = hi·2^16 + lo; ns = (hi·1e9)·2^16 + (lo·1e9 + nanos), both products < 2^46.
    const hi = (seconds / 65536) >>> 0;
    const a = hi * 1e9;
    const b = (seconds - hi * 65536) * 1e9 + nanos;
    const aLow = (a >>> 0) & 0xffff; // a·2^16 = aHigh·2^32 + aLow·2^16
    const bLow = b >>> 0;
    let low = aLow * 65536 + bLow;
    let high = (a - aLow) / 65536 + (b - bLow) / kTwo32;
    if (low >= kTwo32) {
      low -= kTwo32;
      high++;
    }
    this.#ensure(8);
    this.#uint32(low);
    this.#uint32(high);
  }

  /** Four little-endian bytes (capacity ensured by the caller). */
  #uint32(value: number): void {
    const bytes = this.#bytes;
    const pos = this.#pos;
    bytes[pos] = value & 0xff;
    bytes[pos + 1] = (value >>> 8) & 0xff;
    bytes[pos + 2] = (value >>> 16) & 0xff;
    bytes[pos + 3] = value >>> 24;
    this.#pos = pos + 4;
  }

  #double(value: number): void {
    this.#ensure(8);
    this.#bytes.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
  }

  /** A one- or two-byte tag (fields below 2048) and nothing else. */
  #tag(field: number, wireType: number): void {
    this.#varint((field << 3) | wireType);
  }

  /** A length-delimited UTF-8 string (length prefix included). */
  #string(text: string): void {
    const n = text.length;
    this.#ensure(5 + 3 * n);
    const bytes = this.#bytes;
    const at = this.#pos;
    if (n < 0x80) {
      let pos = at + 1;
      let i = 0;
      for (; i < n; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        bytes[pos++] = code;
      }
      if (i === n) {
        bytes[at] = n;
        this.#pos = pos;
        return;
      }
    }
    // UTF-8 is n..3n bytes: reserve the length size of 3n, shift if the real length is shorter.
    const reserved = varintSize(3 * n);
    const length = bytes.write(text, at + reserved, 'utf8');
    const size = varintSize(length);
    if (size !== reserved) bytes.copyWithin(at + size, at + reserved, at + reserved + length);
    this.#pos = at;
    this.#varintRaw(length);
    this.#pos = at + size + length;
  }

  /** Bytes with their length prefix. */
  #bytesField(value: Uint8Array): void {
    this.#ensure(5 + value.length);
    this.#varintRaw(value.length);
    this.#bytes.set(value, this.#pos);
    this.#pos += value.length;
  }

  /** A hex id as a length-delimited bytes field (tag included). */
  #id(tagByte: number, hex: string): void {
    const n = hex.length >>> 1;
    this.#ensure(2 + 5 + n);
    const bytes = this.#bytes;
    bytes[this.#pos++] = tagByte;
    this.#varintRaw(n);
    let pos = this.#pos;
    for (let i = 0; i < n; i++) {
      bytes[pos++] = (kHex[hex.charCodeAt(2 * i) & 0x7f]! << 4) | kHex[hex.charCodeAt(2 * i + 1) & 0x7f]!;
    }
    this.#pos = pos;
  }

  /** An id of `length` bytes at `at` in `ids` as a length-delimited bytes field (tag included). */
  #idBytes(tagByte: number, ids: Uint8Array, at: number, length: number): void {
    this.#ensure(2 + length);
    const bytes = this.#bytes;
    let pos = this.#pos;
    bytes[pos++] = tagByte;
    bytes[pos++] = length;
    for (let i = at; i < at + length; i++) bytes[pos++] = ids[i]!;
    this.#pos = pos;
  }

  /** Reserves `size` bytes for a length; returns where they start (the content starts `size` after). */
  #begin(size: number): number {
    this.#ensure(size);
    const at = this.#pos;
    this.#pos += size;
    return at;
  }

  /** Writes the length of the content since `at + reserved`, shifting the content if its varint needs another size. */
  #end(at: number, reserved: number): void {
    const start = at + reserved;
    const length = this.#pos - start;
    const size = varintSize(length);
    if (size !== reserved) {
      if (size > reserved) this.#ensure(size - reserved);
      this.#bytes.copyWithin(at + size, start, this.#pos);
      this.#pos += size - reserved;
    }
    const end = this.#pos;
    this.#pos = at;
    this.#varintRaw(length);
    this.#pos = end;
  }

  #raw(fragment: Uint8Array): void {
    this.#ensure(fragment.length);
    this.#pos = putBytes(this.#bytes, this.#pos, fragment);
  }

  // --- messages ---------------------------------------------------------------------------

  /** ResourceSpans field 1: Resource { attributes = 1, dropped_attributes_count = 2 }. */
  #resource(resource: Resource): void {
    const cached = this.#resources.get(resource);
    if (cached !== undefined) {
      this.#raw(cached);
      return;
    }
    const start = this.#pos;
    this.#tag(1, 2);
    const at = this.#begin(2);
    if (resource.attributes) this.#attributes(resource.attributes, 1);
    this.#tag(2, 0);
    this.#varint(0);
    this.#end(at, 2);
    // Attributes still being detected may change: cache only a settled resource.
    if (resource.asyncAttributesPending !== true) {
      this.#resources.set(resource, Uint8Array.prototype.slice.call(this.#bytes, start, this.#pos));
    }
  }

  /** ScopeSpans field 1: InstrumentationScope { name = 1, version = 2, attributes = 3, dropped = 4 }. */
  #scope(scope: InstrumentationScope): void {
    const cached = this.#scopes.get(scope);
    if (cached !== undefined) {
      this.#raw(cached);
      return;
    }
    const start = this.#pos;
    this.#tag(1, 2);
    const at = this.#begin(1);
    this.#tag(1, 2);
    this.#string(scope.name);
    if (scope.version) {
      this.#tag(2, 2);
      this.#string(scope.version);
    }
    const extra = scope as { attributes?: Attributes; droppedAttributesCount?: number };
    if (extra.attributes) this.#attributes(extra.attributes, 3);
    if (extra.droppedAttributesCount) {
      this.#tag(4, 0);
      this.#varint(extra.droppedAttributesCount);
    }
    this.#end(at, 1);
    this.#scopes.set(scope, Uint8Array.prototype.slice.call(this.#bytes, start, this.#pos));
  }

  /**
   * ScopeSpans field 2: Span { trace_id = 1, span_id = 2, trace_state = 3, parent_span_id = 4,
   * name = 5, kind = 6, start = 7, end = 8, attributes = 9, dropped_attributes_count = 10,
   * events = 11, dropped_events_count = 12, links = 13, dropped_links_count = 14, status = 15,
   * flags = 16 }, in the SDK serializer's order and presence rules.
   */
  #span(span: ReadableSpan): void {
    this.#tag(2, 2);
    const at = this.#begin(2);
    let traceFlags: number = TraceFlags.SAMPLED;
    const pairSpan = span instanceof PairSpan ? span : null;
    if (pairSpan !== null) {
      // Its ids as bytes (no trace state).
      this.#idBytes(0x0a, pairSpan.ids, pairSpan.idAt, kTraceIdBytes);
      this.#idBytes(0x12, pairSpan.ids, pairSpan.idAt + kTraceIdBytes, kSpanIdBytes);
    } else {
      const context = span.spanContext();
      traceFlags = context.traceFlags;
      this.#contextFields(context);
    }
    const parent = span.parentSpanContext;
    if (parent?.spanId) this.#id(0x22, parent.spanId);
    this.#tag(5, 2);
    this.#string(span.name);
    const kind = span.kind == null ? 0 : span.kind + 1;
    if (kind !== 0) {
      this.#tag(6, 0);
      this.#varint(kind);
    }
    if (pairSpan !== null) {
      // Its times as the numbers they are (no HrTime arrays).
      this.#tag(7, 1);
      this.#time(pairSpan.startSeconds, pairSpan.startNanos);
      this.#tag(8, 1);
      this.#time(pairSpan.endSeconds, pairSpan.endNanos);
    } else {
      const start = span.startTime;
      const end = span.endTime;
      this.#tag(7, 1);
      this.#time(start[0], start[1]);
      this.#tag(8, 1);
      this.#time(end[0], end[1]);
    }
    if (span.attributes) this.#attributes(span.attributes, 9);
    const flags = spanFlags(traceFlags, parent?.isRemote);
    const code = span.status.code;
    if (pairSpan !== null && !span.status.message && code >= 0 && code < 3) {
      // Everything after a PairSpan's attributes depends only on its status code and flags.
      const tailKey = code * 4 + (flags >>> 8);
      let tail = this.#pairSpanTails[tailKey];
      if (tail === undefined) {
        tail = this.#encodedAside(() => this.#spanTail(span, flags));
        this.#pairSpanTails[tailKey] = tail;
      }
      this.#raw(tail);
    } else {
      this.#spanTail(span, flags);
    }
    this.#end(at, 2);
  }

  /** Span fields 10-16, after the attributes: dropped counts, events, links, status, flags. */
  #spanTail(span: ReadableSpan, flags: number): void {
    this.#tag(10, 0);
    this.#varint(span.droppedAttributesCount);
    const events = span.events;
    for (let i = 0; i < events.length; i++) this.#event(events[i]!);
    this.#tag(12, 0);
    this.#varint(span.droppedEventsCount);
    const links = span.links;
    for (let i = 0; i < links.length; i++) {
      const link = links[i]!;
      this.#link(link.context, link.attributes, link.droppedAttributesCount);
    }
    this.#tag(14, 0);
    this.#varint(span.droppedLinksCount);
    // Status { message = 2, code = 3 }
    this.#tag(15, 2);
    const statusAt = this.#begin(1);
    if (span.status.message) {
      this.#tag(2, 2);
      this.#string(span.status.message);
    }
    this.#tag(3, 0);
    this.#varint(span.status.code);
    this.#end(statusAt, 1);
    this.#tag(16, 5);
    this.#fixed32(flags);
  }

  /** Span field 11: Event { time = 1, name = 2, attributes = 3, dropped_attributes_count = 4 }. */
  #event(event: TimedEvent): void {
    this.#tag(11, 2);
    const at = this.#begin(1);
    this.#tag(1, 1);
    this.#time(event.time[0], event.time[1]);
    this.#tag(2, 2);
    this.#string(event.name);
    if (event.attributes) this.#attributes(event.attributes, 3);
    this.#tag(4, 0);
    this.#varint(event.droppedAttributesCount || 0);
    this.#end(at, 1);
  }

  /** Fields 1-3 of a Span or a Link: trace_id, span_id and trace_state of `context`. */
  #contextFields(context: SpanContext): void {
    this.#id(0x0a, context.traceId);
    this.#id(0x12, context.spanId);
    const traceState = context.traceState?.serialize();
    if (traceState) {
      this.#tag(3, 2);
      this.#string(traceState);
    }
  }

  /** Span field 13: Link { trace_id = 1, span_id = 2, trace_state = 3, attributes = 4, dropped = 5, flags = 6 }. */
  #link(context: SpanContext, attributes: Attributes | undefined, dropped: number | undefined): void {
    this.#tag(13, 2);
    const at = this.#begin(1);
    this.#contextFields(context);
    if (attributes) this.#attributes(attributes, 4);
    this.#tag(5, 0);
    this.#varint(dropped || 0);
    this.#tag(6, 5);
    this.#fixed32(spanFlags(context.traceFlags, context.isRemote));
    this.#end(at, 1);
  }

  /**
   * Repeated KeyValue { key = 1, value = 2 } under `field` (below 16: a one-byte tag), own
   * enumerable keys in order. for-in, not Object.keys: on the mapper's fast-mode objects V8
   * enumerates from the shape's enum cache and allocates nothing (Object.keys made an array per
   * span, ~230 bytes); attribute objects are plain (no inherited enumerable keys to skip).
   */
  #attributes(attributes: Attributes, field: number): void {
    const tagByte = (field << 3) | 2;
    const recentKeys = this.#recentKeys;
    let index = 0;
    for (const key in attributes) {
      const value = attributes[key];
      // Spans share their first keys, in the same order: the key at this position last time is
      // compared first (the same string object: a pointer compare), the key cache asked only if not.
      const keyField =
        index < kRecentKeys && recentKeys[index] === key
          ? this.#recentKeyFields[index]
          : this.#keyFieldAt(key, index);
      index++;
      if (keyField !== undefined) {
        // Fast paths: the whole KeyValue under 128 bytes, every length known before writing.
        if (typeof value === 'string') {
          if (value.length + keyField.length < 124 && this.#shortAscii(tagByte, keyField, value)) continue;
        } else if (typeof value === 'number') {
          if (value >= 0 && value < kTwo32 && Number.isInteger(value) && keyField.length < 120) {
            this.#shortUint(tagByte, keyField, value);
            continue;
          }
        }
      }
      // The rare paths (any value, a key new to the cache) are calls: inlined, they used up V8's
      // inlining budget of this method, and the fast paths above became calls instead.
      this.#keyValue(tagByte, key, keyField, value);
    }
  }

  /** #keyField(), remembered as the key at attribute position `index`. */
  #keyFieldAt(key: string, index: number): Uint8Array | undefined {
    const keyField = this.#keyField(key);
    if (index < kRecentKeys && keyField !== undefined) {
      this.#recentKeys[index] = key;
      this.#recentKeyFields[index] = keyField;
    }
    return keyField;
  }

  /** A KeyValue of any value (tag `tagByte`); `keyField` if the key has one. */
  #keyValue(
    tagByte: number,
    key: string,
    keyField: Uint8Array | undefined,
    value: AttributeValue | Attributes | null | undefined,
  ): void {
    this.#ensure(1);
    this.#bytes[this.#pos++] = tagByte;
    const at = this.#begin(1);
    if (keyField !== undefined) this.#raw(keyField);
    else {
      this.#tag(1, 2);
      this.#string(key);
    }
    this.#ensure(1);
    this.#bytes[this.#pos++] = 0x12;
    const valueAt = this.#begin(1);
    this.#anyValue(value);
    this.#end(valueAt, 1);
    this.#end(at, 1);
  }

  /**
   * KeyValue{key, AnyValue{string_value}} for an ASCII string when the KeyValue stays below 128
   * bytes (all three lengths fit one byte); false (nothing written) when the text is not ASCII.
   */
  #shortAscii(tagByte: number, keyField: Uint8Array, text: string): boolean {
    const n = text.length;
    const k = keyField.length;
    this.#ensure(k + n + 6);
    const bytes = this.#bytes;
    const start = this.#pos;
    let pos = start;
    bytes[pos++] = tagByte;
    bytes[pos++] = k + n + 4; // KeyValue: key field, 0x12, AnyValue length, AnyValue (2 + n)
    pos = putBytes(bytes, pos, keyField);
    bytes[pos++] = 0x12;
    bytes[pos++] = n + 2; // AnyValue: 0x0a, length, text
    bytes[pos++] = 0x0a;
    bytes[pos++] = n;
    for (let i = 0; i < n; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) return false; // #pos unchanged: the caller writes it the general way
      bytes[pos++] = code;
    }
    this.#pos = pos;
    return true;
  }

  /** KeyValue{key, AnyValue{int_value}} for an integer in [0, 2^32) with a short key. */
  #shortUint(tagByte: number, keyField: Uint8Array, value: number): void {
    const k = keyField.length;
    const size = varintSize(value);
    this.#ensure(k + size + 5);
    const bytes = this.#bytes;
    let pos = this.#pos;
    bytes[pos++] = tagByte;
    bytes[pos++] = k + size + 3; // KeyValue: key field, 0x12, AnyValue length, AnyValue (1 + size)
    pos = putBytes(bytes, pos, keyField);
    bytes[pos++] = 0x12;
    bytes[pos++] = size + 1;
    bytes[pos++] = 0x18;
    this.#pos = pos;
    this.#varintRaw(value);
  }

  /** KeyValue field 1 (tag, length, UTF-8 key), cached; undefined when the cache is full and the key new. */
  #keyField(key: string): Uint8Array | undefined {
    return this.#keys.get(key) ?? this.#newKeyField(key);
  }

  #newKeyField(key: string): Uint8Array | undefined {
    if (this.#keys.size >= kMaxCachedKeys) return undefined;
    const start = this.#pos;
    this.#tag(1, 2);
    this.#string(key);
    const field = Uint8Array.prototype.slice.call(this.#bytes, start, this.#pos);
    this.#pos = start;
    this.#keys.set(key, field);
    return field;
  }

  /**
   * AnyValue { string = 1, bool = 2, int = 3, double = 4, array = 5, kvlist = 6, bytes = 7 }:
   * integral numbers in int64 range as int, other numbers as double; undefined/null as an empty
   * AnyValue (as the SDK serializer).
   */
  #anyValue(value: AttributeValue | Attributes | null | undefined): void {
    switch (typeof value) {
      case 'string':
        this.#tag(1, 2);
        this.#string(value);
        return;
      case 'boolean':
        this.#ensure(2);
        this.#bytes[this.#pos++] = 0x10;
        this.#bytes[this.#pos++] = value ? 1 : 0;
        return;
      case 'number':
        if (Number.isInteger(value) && value >= kMinInt64 && value < kMaxInt64) {
          this.#tag(3, 0);
          this.#varint64(value);
        } else {
          this.#tag(4, 1);
          this.#double(value);
        }
        return;
      case 'object': {
        if (value === null) return;
        if (value instanceof Uint8Array) {
          this.#tag(7, 2);
          this.#bytesField(value);
          return;
        }
        if (Array.isArray(value)) {
          // ArrayValue { values = 1 }
          this.#tag(5, 2);
          const at = this.#begin(1);
          for (const item of value) {
            this.#tag(1, 2);
            const itemAt = this.#begin(1);
            this.#anyValue(item as AttributeValue | null | undefined);
            this.#end(itemAt, 1);
          }
          this.#end(at, 1);
          return;
        }
        // KeyValueList { values = 1 }
        this.#tag(6, 2);
        const at = this.#begin(1);
        this.#attributes(value as Attributes, 1);
        this.#end(at, 1);
        return;
      }
      default:
        return;
    }
  }
}

/**
 * `from` copied to `pos` (room there ensured); returns the position after it. set() (a memmove)
 * from 16 bytes on: measured 2x faster than a byte loop for attribute keys (~22 bytes); shorter
 * ones by the loop, cheaper than set()'s call.
 */
function putBytes(out: Uint8Array, pos: number, from: Uint8Array): number {
  const n = from.length;
  if (n < 16) {
    for (let i = 0; i < n; i++) out[pos + i] = from[i]!;
  } else {
    out.set(from, pos);
  }
  return pos + n;
}

/** A varint below 2^32 at `pos`; returns the position after it. */
function putVarint(out: Uint8Array, pos: number, value: number): number {
  let v = value >>> 0;
  while (v > 0x7f) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}

/** Bytes of a schema_url field (3), 0 when there is none (as the SDK serializer: empty is left out). */
function schemaUrlSize(url: string | undefined): number {
  if (!url) return 0;
  const length = Buffer.byteLength(url, 'utf8');
  return 1 + varintSize(length) + length;
}

/** The schema_url field (3) at `pos`, if any; returns the position after it. */
function putSchemaUrl(out: Buffer, pos: number, url: string | undefined): number {
  if (!url) return pos;
  out[pos++] = 0x1a;
  const length = Buffer.byteLength(url, 'utf8');
  pos = putVarint(out, pos, length);
  return pos + out.write(url, pos, 'utf8');
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  let flags = (traceFlags & 0xff) | kSpanFlagsHasIsRemote;
  if (isRemote) flags |= kSpanFlagsIsRemote;
  return flags;
}
