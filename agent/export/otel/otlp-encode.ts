/**
 * ReadableSpan[] → OTLP `ExportTraceServiceRequest` protobuf bytes, written by hand into one
 * reused growable buffer: wirespan's replacement for otlp-transformer's ProtobufTraceSerializer
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
 * - ids go from hex straight into the buffer (the SDK allocates a Uint8Array per id);
 * - grouping uses typed-array linked lists over span indexes, not a Map of arrays per request.
 *
 * The buffer is reused across requests; encode() returns a copy of exactly the request bytes (the
 * transport may hold a request for its retries while the next one is encoded).
 *
 * Streaming (the workers, span-request-encoder.ts): add() encodes each span into the buffer as it
 * is made, so span objects never wait for a request's worth of others; take() then writes the
 * request into a buffer of its exact size, the spans' bytes copied in resource and scope order,
 * every length known beforehand (nothing shifted). Same bytes as encode() of the same spans.
 */
import type { Attributes, AttributeValue, HrTime, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

const kTwo32 = 4_294_967_296;
const kMinInt64 = -(2 ** 63);
const kMaxInt64 = 2 ** 63;
/** Attribute keys kept as encoded bytes; beyond, keys are encoded every time (a bound, not an expected size). */
const kMaxCachedKeys = 4096;
const kInitialCapacity = 1 << 20;
/** A buffer grown beyond this by one huge request is given back afterwards. */
const kKeepCapacity = 16 << 20;
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
  #bytes: Buffer = Buffer.allocUnsafeSlow(kInitialCapacity);
  #pos = 0;
  readonly #keys = new Map<string, Uint8Array>();
  /** ResourceSpans field 1 (tag, length, Resource message), per Resource object. */
  readonly #resources = new WeakMap<Resource, Uint8Array>();
  /** ScopeSpans field 1 (tag, length, InstrumentationScope message), per scope object. */
  readonly #scopes = new WeakMap<InstrumentationScope, Uint8Array>();

  // Grouping scratch, reused: groups are (resource, scope) pairs; spans chained per group.
  #spanNext: Int32Array<ArrayBuffer> = new Int32Array(4096);
  #groupHead: Int32Array<ArrayBuffer> = new Int32Array(64);
  #groupTail: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** The next group of the same resource (another scope), or -1. */
  #groupNextScope: Int32Array<ArrayBuffer> = new Int32Array(64);
  readonly #groupScope: InstrumentationScope[] = [];
  /** Group index of each resource's first group, in first-appearance order. */
  readonly #resourceOrder: number[] = [];
  readonly #resourceGroup = new Map<Resource, number>();
  readonly #groupResource: Resource[] = [];

  // Streaming (add / take): spans encoded as they come, one after another in #bytes.
  /** Spans added since the last take(). */
  #added = 0;
  /** Per added span: where its Span field starts in #bytes (the next one's start is its end). */
  #spanStart: Int32Array<ArrayBuffer> = new Int32Array(4096);
  /** Per added span: its group. */
  #spanGroup: Int32Array<ArrayBuffer> = new Int32Array(4096);
  /** Per group: the bytes of its spans' Span fields. */
  #groupSpanBytes: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** The request's size if taken now, at most (every length counted as 5 bytes). */
  #requestBound = 0;

  /** The request for `spans` (a fresh copy; empty for no spans, as the SDK serializer). */
  encode(spans: readonly ReadableSpan[]): Uint8Array {
    this.#pos = 0;
    try {
      this.#group(spans);
      const order = this.#resourceOrder;
      for (let r = 0; r < order.length; r++) this.#resourceSpans(spans, order[r]!);
      const out = Buffer.allocUnsafeSlow(this.#pos);
      this.#bytes.copy(out, 0, 0, this.#pos);
      return out;
    } finally {
      // Also after a throw (a span whose getter throws: the export fails, the encoder stays
      // usable): release this request's objects, give back a buffer one huge request grew.
      this.#resetGroups();
      if (this.#bytes.length > kKeepCapacity) this.#bytes = Buffer.allocUnsafeSlow(kInitialCapacity);
    }
  }

  #resetGroups(): void {
    this.#resourceGroup.clear();
    this.#resourceOrder.length = 0;
    this.#groupResource.length = 0;
    this.#groupScope.length = 0;
  }

  // --- streaming --------------------------------------------------------------------------

  /** Spans added since the last take(). */
  get added(): number {
    return this.#added;
  }

  /** An upper bound of the size of the request take() would return now. */
  get requestBound(): number {
    return this.#requestBound;
  }

  /**
   * Encodes one span into the request being built (streaming, as an alternative to encode(): the
   * span object is not needed any more once this returns). A span that throws is left out whole.
   * Do not mix with encode() before take().
   */
  add(span: ReadableSpan): void {
    const resource = span.resource;
    const scope = span.instrumentationScope;
    const start = this.#pos;
    try {
      this.#span(span);
    } catch (error) {
      this.#pos = start;
      throw error;
    }
    const i = this.#added;
    this.#ensureSpans(i + 1);
    const resources = this.#resourceOrder.length;
    const groups = this.#groupScope.length;
    const group = this.#groupOf(i, resource, scope);
    if (this.#groupScope.length !== groups) {
      this.#requestBound += 6 + this.#scopeField(scope).length + schemaUrlSize(scope.schemaUrl);
    }
    if (this.#resourceOrder.length !== resources) {
      this.#requestBound += 6 + this.#resourceField(resource).length + schemaUrlSize(resource.schemaUrl);
    }
    const size = this.#pos - start;
    this.#spanStart[i] = start;
    this.#spanGroup[i] = group;
    this.#groupSpanBytes[group]! += size;
    this.#requestBound += size;
    this.#added = i + 1;
  }

  /**
   * The request of the spans added since the last take(), byte for byte what encode() makes of
   * them (a fresh buffer; empty for no spans). With `leaveLast` (and more than one span added),
   * the last span added is left out and starts the next request.
   */
  take(leaveLast = false): Uint8Array {
    const n = this.#added;
    const spanStart = this.#spanStart;
    const end = this.#pos;
    const left = leaveLast && n > 1 ? n - 1 : -1;
    let leftStart = end;
    if (left >= 0) {
      leftStart = spanStart[left]!;
      this.#groupSpanBytes[this.#spanGroup[left]!]! -= end - leftStart;
    }
    const leftResource = left >= 0 ? this.#groupResource[this.#spanGroup[left]!]! : null;
    const leftScope = left >= 0 ? this.#groupScope[this.#spanGroup[left]!]! : null;

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
    const out = Buffer.allocUnsafeSlow(total);
    const bytes = this.#bytes;
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
        if (this.#groupSpanBytes[g] === 0) continue;
        const scope = this.#groupScope[g]!;
        out[pos++] = 0x12;
        pos = putVarint(out, pos, scopeLengths[scopeAt++]!);
        const scopeField = this.#scopeField(scope);
        out.set(scopeField, pos);
        pos += scopeField.length;
        for (let i = this.#groupHead[g]!; i !== -1; i = this.#spanNext[i]!) {
          if (i === left) continue;
          const from = spanStart[i]!;
          const to = i + 1 < n ? spanStart[i + 1]! : end;
          bytes.copy(out, pos, from, to);
          pos += to - from;
        }
        pos = putSchemaUrl(out, pos, scope.schemaUrl);
      }
      pos = putSchemaUrl(out, pos, resource.schemaUrl);
    }

    this.#resetGroups();
    this.#added = 0;
    this.#requestBound = 0;
    this.#pos = 0;
    if (left >= 0) {
      // The span left out becomes the first of the next request (#bytes: grown if a field was encoded above).
      this.#bytes.copyWithin(0, leftStart, end);
      this.#pos = end - leftStart;
      this.#spanStart[0] = 0;
      const group = this.#groupOf(0, leftResource!, leftScope!);
      this.#spanGroup[0] = group;
      this.#groupSpanBytes[group] = this.#pos;
      this.#requestBound =
        12 +
        this.#pos +
        this.#scopeField(leftScope!).length +
        schemaUrlSize(leftScope!.schemaUrl) +
        this.#resourceField(leftResource!).length +
        schemaUrlSize(leftResource!.schemaUrl);
      this.#added = 1;
    } else if (this.#bytes.length > kKeepCapacity) {
      this.#bytes = Buffer.allocUnsafeSlow(kInitialCapacity);
    }
    return out;
  }

  /**
   * The ResourceSpans content length of the resource whose first group is `first` (0: no spans
   * left in it); pushes each non-empty ScopeSpans' content length onto `scopeLengths`.
   */
  #resourceSpansLength(first: number, scopeLengths: number[]): number {
    const resource = this.#groupResource[first]!;
    let length = 0;
    for (let g = first; g !== -1; g = this.#groupNextScope[g]!) {
      const spanBytes = this.#groupSpanBytes[g]!;
      if (spanBytes === 0) continue;
      const scope = this.#groupScope[g]!;
      const scopeLength = this.#scopeField(scope).length + spanBytes + schemaUrlSize(scope.schemaUrl);
      scopeLengths.push(scopeLength);
      length += 1 + varintSize(scopeLength) + scopeLength;
    }
    if (length === 0) return 0;
    return length + this.#resourceField(resource).length + schemaUrlSize(resource.schemaUrl);
  }

  /** ResourceSpans field 1 of `resource` (tag, length, Resource), cached or encoded past #pos. */
  #resourceField(resource: Resource): Uint8Array {
    const cached = this.#resources.get(resource);
    if (cached !== undefined) return cached;
    const start = this.#pos;
    this.#resource(resource);
    const field = Uint8Array.prototype.slice.call(this.#bytes, start, this.#pos);
    this.#pos = start;
    return field;
  }

  /** ScopeSpans field 1 of `scope` (tag, length, InstrumentationScope), cached or encoded past #pos. */
  #scopeField(scope: InstrumentationScope): Uint8Array {
    const cached = this.#scopes.get(scope);
    if (cached !== undefined) return cached;
    const start = this.#pos;
    this.#scope(scope);
    const field = Uint8Array.prototype.slice.call(this.#bytes, start, this.#pos);
    this.#pos = start;
    return field;
  }

  #group(spans: readonly ReadableSpan[]): void {
    const n = spans.length;
    this.#ensureSpans(n);
    for (let i = 0; i < n; i++) {
      const span = spans[i]!;
      this.#groupOf(i, span.resource, span.instrumentationScope);
    }
  }

  /** Room for `n` spans in the per-span scratch arrays. */
  #ensureSpans(n: number): void {
    if (this.#spanNext.length >= n + 1) return;
    const grow = <T extends Int32Array<ArrayBuffer>>(old: T): Int32Array<ArrayBuffer> => {
      const grown = new Int32Array(Math.max(n + 1, old.length * 2));
      grown.set(old);
      return grown;
    };
    this.#spanNext = grow(this.#spanNext);
    this.#spanStart = grow(this.#spanStart);
    this.#spanGroup = grow(this.#spanGroup);
  }

  /** Chains span `i` at the end of its (resource, scope) group, made on first sight; returns the group. */
  #groupOf(i: number, resource: Resource, scope: InstrumentationScope): number {
    let group = this.#resourceGroup.get(resource);
    if (group === undefined) {
      group = this.#newGroup(resource, scope);
      this.#resourceGroup.set(resource, group);
      this.#resourceOrder.push(group);
    } else {
      let last = group;
      while (group !== -1 && this.#groupScope[group] !== scope) {
        last = group;
        group = this.#groupNextScope[group]!;
      }
      if (group === -1) {
        group = this.#newGroup(resource, scope);
        this.#groupNextScope[last] = group;
      }
    }
    const next = this.#spanNext;
    next[i] = -1;
    const tail = this.#groupTail[group]!;
    if (tail === -1) this.#groupHead[group] = i;
    else next[tail] = i;
    this.#groupTail[group] = i;
    return group;
  }

  #newGroup(resource: Resource, scope: InstrumentationScope): number {
    const group = this.#groupScope.length;
    if (group === this.#groupHead.length) {
      const grow = (old: Int32Array): Int32Array<ArrayBuffer> => {
        const grown = new Int32Array(old.length * 2);
        grown.set(old);
        return grown;
      };
      this.#groupHead = grow(this.#groupHead);
      this.#groupTail = grow(this.#groupTail);
      this.#groupNextScope = grow(this.#groupNextScope);
      this.#groupSpanBytes = grow(this.#groupSpanBytes);
    }
    this.#groupScope.push(scope);
    this.#groupResource.push(resource);
    this.#groupHead[group] = -1;
    this.#groupTail[group] = -1;
    this.#groupNextScope[group] = -1;
    this.#groupSpanBytes[group] = 0;
    return group;
  }

  // --- buffer primitives ------------------------------------------------------------------

  #ensure(n: number): void {
    if (this.#pos + n <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < this.#pos + n) capacity *= 2;
    const grown = Buffer.allocUnsafeSlow(capacity);
    this.#bytes.copy(grown, 0, 0, this.#pos);
    this.#bytes = grown;
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
   * HrTime [s, ns] as the fixed64 ns since the epoch: exact, from 32-bit halves (no BigInt), for
   * seconds below 2^32 (year 2106; every product below stays under 2^53).
   */
  #time(time: HrTime): void {
    const seconds = time[0];
    const nanos = time[1];
    // seconds = hi·2^16 + lo; seconds·1e9 = (hi·1e9)·2^16 + lo·1e9, each product < 2^53.
    const hi = Math.floor(seconds / 65536);
    const lo = seconds - hi * 65536;
    const a = hi * 1e9;
    const aLow = (a % 65536) * 65536; // (a·2^16) mod 2^32
    const aHigh = Math.floor(a / 65536); // floor(a·2^16 / 2^32)
    const b = lo * 1e9 + nanos;
    const bLow = b % kTwo32;
    const sumLow = aLow + bLow;
    const low = sumLow % kTwo32;
    const high = aHigh + Math.floor(b / kTwo32) + Math.floor(sumLow / kTwo32);
    this.#ensure(8);
    this.#uint32(low >>> 0);
    this.#uint32(high >>> 0);
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
    const n = fragment.length;
    this.#ensure(n);
    const bytes = this.#bytes;
    let pos = this.#pos;
    if (n <= 64) for (let i = 0; i < n; i++) bytes[pos++] = fragment[i]!;
    else {
      bytes.set(fragment, pos);
      pos += n;
    }
    this.#pos = pos;
  }

  // --- messages ---------------------------------------------------------------------------

  #resourceSpans(spans: readonly ReadableSpan[], first: number): void {
    const resource = this.#groupResource[first]!;
    this.#tag(1, 2);
    const at = this.#begin(4);
    this.#resource(resource);
    for (let group = first; group !== -1; group = this.#groupNextScope[group]!) {
      const scope = this.#groupScope[group]!;
      this.#tag(2, 2);
      const scopeAt = this.#begin(4);
      this.#scope(scope);
      for (let i = this.#groupHead[group]!; i !== -1; i = this.#spanNext[i]!) this.#span(spans[i]!);
      if (scope.schemaUrl) {
        this.#tag(3, 2);
        this.#string(scope.schemaUrl);
      }
      this.#end(scopeAt, 4);
    }
    if (resource.schemaUrl) {
      this.#tag(3, 2);
      this.#string(resource.schemaUrl);
    }
    this.#end(at, 4);
  }

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
    const context = span.spanContext();
    this.#id(0x0a, context.traceId);
    this.#id(0x12, context.spanId);
    const traceState = context.traceState?.serialize();
    if (traceState) {
      this.#tag(3, 2);
      this.#string(traceState);
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
    this.#tag(7, 1);
    this.#time(span.startTime);
    this.#tag(8, 1);
    this.#time(span.endTime);
    if (span.attributes) this.#attributes(span.attributes, 9);
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
    this.#fixed32(spanFlags(context.traceFlags, parent?.isRemote));
    this.#end(at, 2);
  }

  /** Span field 11: Event { time = 1, name = 2, attributes = 3, dropped_attributes_count = 4 }. */
  #event(event: TimedEvent): void {
    this.#tag(11, 2);
    const at = this.#begin(1);
    this.#tag(1, 1);
    this.#time(event.time);
    this.#tag(2, 2);
    this.#string(event.name);
    if (event.attributes) this.#attributes(event.attributes, 3);
    this.#tag(4, 0);
    this.#varint(event.droppedAttributesCount || 0);
    this.#end(at, 1);
  }

  /** Span field 13: Link { trace_id = 1, span_id = 2, trace_state = 3, attributes = 4, dropped = 5, flags = 6 }. */
  #link(context: SpanContext, attributes: Attributes | undefined, dropped: number | undefined): void {
    this.#tag(13, 2);
    const at = this.#begin(1);
    this.#id(0x0a, context.traceId);
    this.#id(0x12, context.spanId);
    const traceState = context.traceState?.serialize();
    if (traceState) {
      this.#tag(3, 2);
      this.#string(traceState);
    }
    if (attributes) this.#attributes(attributes, 4);
    this.#tag(5, 0);
    this.#varint(dropped || 0);
    this.#tag(6, 5);
    this.#fixed32(spanFlags(context.traceFlags, context.isRemote));
    this.#end(at, 1);
  }

  /**
   * Repeated KeyValue { key = 1, value = 2 } under `field` (below 16: a one-byte tag), own
   * enumerable keys in order (Object.keys: measured cheaper than for-in on objects in dictionary
   * mode, which attribute objects from elsewhere may be).
   */
  #attributes(attributes: Attributes, field: number): void {
    const tagByte = (field << 3) | 2;
    const keys = Object.keys(attributes);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value = attributes[key];
      const keyField = this.#keyField(key);
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
    for (let i = 0; i < k; i++) bytes[pos++] = keyField[i]!;
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
    for (let i = 0; i < k; i++) bytes[pos++] = keyField[i]!;
    bytes[pos++] = 0x12;
    bytes[pos++] = size + 1;
    bytes[pos++] = 0x18;
    this.#pos = pos;
    this.#varintRaw(value);
  }

  /** KeyValue field 1 (tag, length, UTF-8 key), cached; undefined when the cache is full and the key new. */
  #keyField(key: string): Uint8Array | undefined {
    const cached = this.#keys.get(key);
    if (cached !== undefined || this.#keys.size >= kMaxCachedKeys) return cached;
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
