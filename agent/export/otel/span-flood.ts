/**
 * Flood protection for spans: unanswered pairs of one source beyond a rate are counted into one
 * `unanswered flood` span per source, protocol and interval instead of exported one by one.
 *
 * A SYN or DNS flood makes every spoofed request an unanswered pair, and each one an ERROR span
 * that sampling never drops: a million spans for a million packets. Here, per (client address,
 * protocol) and interval of capture time (never the wall clock: a replay gives the same spans as
 * the live agent did), the first `perInterval` unanswered pairs become spans as usual; the
 * others are only counted, and when the interval closes one span stands for them: name
 * `unanswered flood`, start and end the interval's bounds, attributes the count, the limit, the
 * protocol, the transport and the client address, status ERROR.
 *
 * Spoofed floods (a SYN flood from random addresses, one request each) never reach a source's
 * limit, so a second tier counts per protocol and interval across all sources: beyond
 * `totalPerInterval` (default 10 x `perInterval`), unanswered pairs go into one `unanswered flood`
 * span per protocol and interval, without `client.address` and with `wirespan.flood.scope` =
 * `all_sources` (per-source aggregates say `source`).
 *
 * Only spans are aggregated: every pair is still counted in the exporter's pair counts and
 * metrics, and written to JSONL. Answered pairs are never limited.
 *
 * Order does not matter: each pair counts in the interval of its own request, whenever it
 * arrives. Unanswered pairs arrive late by design (a request is given up when its timeout has
 * passed, the requests still pending at the end of input all at once) and, with worker threads,
 * interleaved from several shards; counting a late pair against the newest interval (as a single
 * counter per source would) made the spans depend on the number of workers. So every interval
 * of the last `lateSeconds` of capture time (behind the newest request seen) stays open with its
 * own counts, and closes (its aggregates emitted) once capture time has moved past it. A pair
 * later than that counts in the oldest open interval: still bounded, only no longer exact.
 *
 * Bounded: at most `maxSources` (client, protocol, interval) slots in typed arrays (numeric
 * keys: the address words and the interval, no strings), chained hash buckets, and a
 * least-recently-used list that makes eviction O(1); the all-sources tier is a ring of open
 * intervals per protocol. A slot is closed (its aggregate emitted) when its interval leaves the
 * open window (checked from the LRU tail, amortised O(1)), when it is evicted to make room, or at
 * flush().
 *
 * Checkpoints (`run`): the pairs counted into a pending aggregate are in no span yet, so a
 * checkpoint past their records would lose them on a SIGKILL. Each aggregate is stamped when it
 * gets its first pair (the exporter's accepted span count, `stamp`), and FloodCheckpointHold
 * keeps the exporter's settled mark at the oldest pending stamp until that aggregate's span is
 * settled: the checkpoint lags by the open window during a flood, and a restart sends again what
 * came after it instead of losing the counted pairs.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { kDefaultTimeoutSeconds } from '../../correlate/options.ts';
import { formatIp } from '../../decode/format.ts';
import { SpanKind, SpanStatusCode } from './api-enums.ts';
import {
  ATTR_WIRESPAN_FLOOD_COUNT,
  ATTR_WIRESPAN_FLOOD_LIMIT,
  ATTR_WIRESPAN_FLOOD_SCOPE,
  ATTR_WIRESPAN_PROTOCOL,
} from './attributes.ts';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_TYPE,
} from './semconv-stable.ts';
import type { PairData } from './span-mapper.ts';

export interface SpanFloodOptions {
  /** Unanswered spans per source (client address and protocol) and interval exported one by one; 0 = no limit. */
  perInterval: number;
  /** Unanswered spans per protocol and interval, all sources together; default 10 x perInterval (0 with perInterval 0). */
  totalPerInterval?: number;
  /** Interval length in seconds of capture time. Default 1. */
  intervalSeconds?: number;
  /** (source, interval) slots tracked at once; the least recently seen is closed beyond it. Default 4096. */
  maxSources?: number;
  /**
   * Seconds of capture time an unanswered pair may arrive behind the newest request and still
   * count in its own interval: floodLateSeconds() of the timeouts (default 32, for the default
   * 30 s timeout); a later pair counts in the oldest open interval.
   */
  lateSeconds?: number;
  /**
   * Called once per aggregate, with its first pair: a number kept with it until it is emitted
   * (the exporter's accepted span count, see oldestPendingStamp). Default: none (0).
   */
  stamp?: (() => number) | null;
}

/**
 * How late an unanswered pair can reach the guard, in seconds of capture time behind the newest
 * request: its protocol's timeout (a request is given up that long after it was sent; those still
 * pending at the end of input are younger), plus room for the workers' shards running apart.
 */
export function floodLateSeconds(timeoutNanos: Record<string, number>): number {
  let longest = 0;
  for (const protocol in timeoutNanos) longest = Math.max(longest, timeoutNanos[protocol]!);
  return Math.min(kMaxLateSeconds, Math.ceil(longest / 1e9) + kShardSkewSeconds);
}

/** Default of --unanswered-spans-per-second. */
export const kDefaultUnansweredSpansPerSecond = 100;
const kDefaultMaxSources = 4096;
const kShardSkewSeconds = 2;
/** Default lateSeconds: floodLateSeconds() of the default timeouts. */
const kDefaultLateSeconds = kDefaultTimeoutSeconds + kShardSkewSeconds;
/** Open intervals cost (kOtherProtocol + 1) x 3 numbers each and are scanned once per interval. */
const kMaxLateSeconds = 3600;

/** One `unanswered flood` span's content. */
export interface FloodAggregate {
  readonly name: string;
  readonly kind: SpanKind;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly durationNanos: number;
  readonly attributes: Attributes;
  readonly statusCode: SpanStatusCode;
  /** The first pair counted into it (its service gives the span's resource). */
  readonly firstPair: PairData;
  /** Pairs counted into it. */
  readonly count: number;
}

export const kFloodSpanName = 'unanswered flood';

/** Protocols get small numbers for the slot key; at most 15 distinct names, others share one. */
const kOtherProtocol = 15;

export class SpanFloodGuard {
  readonly #limit: number;
  readonly #totalLimit: number;
  readonly #interval: number;
  /** Open intervals: the newest and the `#window - 1` before it. */
  readonly #window: number;
  /** Newest request interval seen (-1: none yet). */
  #newest = -1;
  // The all-sources tier: per protocol index (at most kOtherProtocol + 1), a ring of the open
  // intervals (entry protocol * window + interval % window; interval -1 = free).
  readonly #totalIntervalOf: Float64Array;
  readonly #totalAdmitted: Uint32Array;
  readonly #totalOverflow: Uint32Array;
  readonly #totalFirstPair: (PairData | null)[];
  readonly #totalStamp: Float64Array;
  readonly #capacity: number;
  readonly #onAggregate: (aggregate: FloodAggregate) => void;
  readonly #stampNow: (() => number) | null;
  /** Aggregates counting at least one pair, not yet emitted (slots and ring entries). */
  #pending = 0;
  readonly #protocols: string[] = [];

  // Slot fields (index = slot).
  readonly #version: Uint8Array;
  readonly #protocol: Uint8Array;
  readonly #address: Int32Array; // 4 words per slot
  readonly #intervalOf: Float64Array;
  readonly #admitted: Uint32Array;
  readonly #overflow: Uint32Array;
  readonly #firstPair: (PairData | null)[];
  readonly #stamp: Float64Array;
  readonly #protocolName: string[];
  readonly #transport: Uint8Array;
  // Hash chains and the LRU list.
  readonly #buckets: Int32Array;
  readonly #chain: Int32Array;
  readonly #prev: Int32Array;
  readonly #next: Int32Array;
  #head = -1; // most recently used
  #tail = -1;
  #free = 0; // slots [free, capacity) never used yet
  readonly #freeList: Int32Array;
  #freeCount = 0;
  #used = 0;

  /** Pairs counted into aggregates instead of exported as spans. */
  aggregated = 0;
  /** Aggregate spans emitted. */
  aggregates = 0;

  constructor(options: SpanFloodOptions, onAggregate: (aggregate: FloodAggregate) => void) {
    if (!Number.isInteger(options.perInterval) || options.perInterval < 0)
      throw new Error(`unansweredSpansPerSecond must be an integer >= 0, got ${options.perInterval}`);
    this.#limit = options.perInterval;
    this.#totalLimit = options.totalPerInterval ?? options.perInterval * 10;
    if (!Number.isInteger(this.#totalLimit) || this.#totalLimit < options.perInterval)
      throw new Error(`totalPerInterval must be an integer >= perInterval, got ${options.totalPerInterval}`);
    this.#interval = options.intervalSeconds ?? 1;
    if (!(this.#interval > 0)) throw new Error(`flood interval must be > 0 seconds, got ${this.#interval}`);
    const late = options.lateSeconds ?? kDefaultLateSeconds;
    if (!(late >= 0 && late <= kMaxLateSeconds))
      throw new Error(`lateSeconds must be 0..${kMaxLateSeconds}, got ${late}`);
    this.#window = Math.ceil(late / this.#interval) + 1;
    const totals = (kOtherProtocol + 1) * this.#window;
    this.#totalIntervalOf = new Float64Array(totals).fill(-1);
    this.#totalAdmitted = new Uint32Array(totals);
    this.#totalOverflow = new Uint32Array(totals);
    this.#totalFirstPair = new Array<PairData | null>(totals).fill(null);
    this.#totalStamp = new Float64Array(totals);
    const capacity = options.maxSources ?? kDefaultMaxSources;
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`maxSources must be >= 1, got ${capacity}`);
    this.#capacity = capacity;
    this.#onAggregate = onAggregate;
    this.#stampNow = options.stamp ?? null;
    this.#version = new Uint8Array(capacity);
    this.#protocol = new Uint8Array(capacity);
    this.#address = new Int32Array(capacity * 4);
    this.#intervalOf = new Float64Array(capacity);
    this.#admitted = new Uint32Array(capacity);
    this.#overflow = new Uint32Array(capacity);
    this.#firstPair = new Array<PairData | null>(capacity).fill(null);
    this.#stamp = new Float64Array(capacity);
    this.#protocolName = new Array<string>(capacity).fill('');
    this.#transport = new Uint8Array(capacity);
    let buckets = 1;
    while (buckets < capacity * 2) buckets <<= 1;
    this.#buckets = new Int32Array(buckets).fill(-1);
    this.#chain = new Int32Array(capacity).fill(-1);
    this.#prev = new Int32Array(capacity).fill(-1);
    this.#next = new Int32Array(capacity).fill(-1);
    this.#freeList = new Int32Array(capacity);
  }

  /** (source, interval) slots tracked now. */
  get sources(): number {
    return this.#used;
  }

  /**
   * The smallest stamp of the aggregates not yet emitted (Infinity: none). Stamps are taken as
   * aggregates start, so this is the oldest one's; it scans the slots, for a caller that asks a
   * few times a second (never per pair).
   */
  get oldestPendingStamp(): number {
    if (this.#pending === 0) return Number.POSITIVE_INFINITY;
    let oldest = Number.POSITIVE_INFINITY;
    for (let slot = this.#tail; slot >= 0; slot = this.#prev[slot]!) {
      if (this.#overflow[slot]! > 0 && this.#stamp[slot]! < oldest) oldest = this.#stamp[slot]!;
    }
    for (let entry = 0; entry < this.#totalOverflow.length; entry++) {
      if (this.#totalOverflow[entry]! > 0 && this.#totalStamp[entry]! < oldest)
        oldest = this.#totalStamp[entry]!;
    }
    return oldest;
  }

  /**
   * Whether this pair's span is exported one by one: true for answered pairs and for the first
   * `perInterval` unanswered ones of its source in its interval (and the first `totalPerInterval`
   * of its protocol); false when it was counted into an aggregate instead.
   */
  admit(pair: PairData): boolean {
    if (this.#limit === 0) return true;
    let interval = Math.floor(pair.request.firstSeconds / this.#interval);
    // Any pair moves capture time on: intervals that leave the open window are closed.
    if (interval > this.#newest) this.#advance(interval);
    if (pair.outcome === 0) return true;
    const oldestOpen = this.#newest - this.#window + 1;
    if (interval < oldestOpen) interval = oldestOpen;
    const protocol = this.#protocolIndex(pair.protocol);
    let slot = this.#find(pair, protocol, interval);
    if (slot < 0) slot = this.#insert(pair, protocol, interval);
    else this.#touch(slot);
    if (this.#admitted[slot]! < this.#limit) {
      this.#admitted[slot]!++;
      return this.#admitTotal(pair, protocol, interval);
    }
    if (this.#overflow[slot]! === 0) {
      this.#firstPair[slot] = pair;
      this.#protocolName[slot] = pair.protocol;
      this.#transport[slot] = pair.transport;
      this.#stamp[slot] = this.#stampNow?.() ?? 0;
      this.#pending++;
    }
    this.#overflow[slot]!++;
    this.aggregated++;
    return false;
  }

  /** Emits every pending aggregate (end of input, forceFlush, shutdown) and forgets all sources. */
  flush(): void {
    while (this.#tail >= 0) this.#remove(this.#tail);
    for (let entry = 0; entry < this.#totalIntervalOf.length; entry++) this.#closeTotal(entry);
  }

  /** Capture time reached `interval`: closes what falls out of the open window. */
  #advance(interval: number): void {
    this.#newest = interval;
    const oldestOpen = interval - this.#window + 1;
    while (this.#tail >= 0 && this.#intervalOf[this.#tail]! < oldestOpen) this.#remove(this.#tail);
    // Once per interval of capture time: (kOtherProtocol + 1) x window entries, a few hundred.
    const intervals = this.#totalIntervalOf;
    for (let entry = 0; entry < intervals.length; entry++) {
      if (intervals[entry]! >= 0 && intervals[entry]! < oldestOpen) this.#closeTotal(entry);
    }
  }

  /** The all-sources tier for a pair its source admitted: true = its own span. */
  #admitTotal(pair: PairData, protocol: number, interval: number): boolean {
    const entry = protocol * this.#window + (interval % this.#window);
    if (this.#totalIntervalOf[entry] !== interval) {
      this.#closeTotal(entry);
      this.#totalIntervalOf[entry] = interval;
    }
    if (this.#totalAdmitted[entry]! < this.#totalLimit) {
      this.#totalAdmitted[entry]!++;
      return true;
    }
    if (this.#totalOverflow[entry]! === 0) {
      this.#totalFirstPair[entry] = pair;
      this.#totalStamp[entry] = this.#stampNow?.() ?? 0;
      this.#pending++;
    }
    this.#totalOverflow[entry]!++;
    this.aggregated++;
    return false;
  }

  /** Emits a ring entry's aggregate (if any) and frees the entry. */
  #closeTotal(entry: number): void {
    const count = this.#totalOverflow[entry]!;
    const interval = this.#totalIntervalOf[entry]!;
    this.#totalIntervalOf[entry] = -1;
    this.#totalAdmitted[entry] = 0;
    if (count === 0) return;
    this.#totalOverflow[entry] = 0;
    this.#pending--;
    const firstPair = this.#totalFirstPair[entry]!;
    this.#totalFirstPair[entry] = null;
    const transport = firstPair.transport;
    this.#send(interval, firstPair, count, {
      [ATTR_WIRESPAN_PROTOCOL]: firstPair.protocol,
      [ATTR_NETWORK_TRANSPORT]: transportName(transport),
      [ATTR_WIRESPAN_FLOOD_COUNT]: count,
      [ATTR_WIRESPAN_FLOOD_LIMIT]: this.#totalLimit,
      [ATTR_WIRESPAN_FLOOD_SCOPE]: 'all_sources',
      [ATTR_ERROR_TYPE]: 'unanswered_flood',
    });
  }

  /** One `unanswered flood` span for interval number `interval`. */
  #send(interval: number, firstPair: PairData, count: number, attributes: Attributes): void {
    const startSeconds = interval * this.#interval;
    const durationNanos = Math.round(this.#interval * 1e9);
    this.aggregates++;
    this.#onAggregate({
      name: kFloodSpanName,
      kind: SpanKind.INTERNAL,
      startTime: hrTime(startSeconds, 0),
      endTime: hrTime(startSeconds, durationNanos),
      durationNanos,
      attributes,
      statusCode: SpanStatusCode.ERROR,
      firstPair,
      count,
    });
  }

  #protocolIndex(name: string): number {
    const list = this.#protocols;
    for (let i = 0; i < list.length; i++) if (list[i] === name) return i;
    if (list.length < kOtherProtocol) {
      list.push(name);
      return list.length - 1;
    }
    return kOtherProtocol;
  }

  #hash(
    version: number,
    c0: number,
    c1: number,
    c2: number,
    c3: number,
    protocol: number,
    interval: number,
  ): number {
    let h = Math.imul(c0 ^ (protocol << 24) ^ version ^ Math.imul(interval | 0, 0x2545f491), 0x9e3779b1);
    h = Math.imul(h ^ c1 ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ c2 ^ (h >>> 13), 0xc2b2ae35);
    h = Math.imul(h ^ c3 ^ (h >>> 16), 0x27d4eb2f);
    return (h ^ (h >>> 15)) & (this.#buckets.length - 1);
  }

  #hashOf(pair: PairData, protocol: number, interval: number): number {
    return this.#hash(
      pair.ipVersion,
      pair.client0,
      pair.client1,
      pair.client2,
      pair.client3,
      protocol,
      interval,
    );
  }

  #find(pair: PairData, protocol: number, interval: number): number {
    const a = this.#address;
    for (
      let slot = this.#buckets[this.#hashOf(pair, protocol, interval)]!;
      slot >= 0;
      slot = this.#chain[slot]!
    ) {
      const w = slot * 4;
      if (
        this.#intervalOf[slot] === interval &&
        this.#protocol[slot] === protocol &&
        this.#version[slot] === pair.ipVersion &&
        a[w] === (pair.client0 | 0) &&
        a[w + 1] === (pair.client1 | 0) &&
        a[w + 2] === (pair.client2 | 0) &&
        a[w + 3] === (pair.client3 | 0)
      )
        return slot;
    }
    return -1;
  }

  #insert(pair: PairData, protocol: number, interval: number): number {
    if (this.#used === this.#capacity) this.#remove(this.#tail);
    const slot = this.#freeCount > 0 ? this.#freeList[--this.#freeCount]! : this.#free++;
    this.#used++;
    this.#version[slot] = pair.ipVersion;
    this.#protocol[slot] = protocol;
    const w = slot * 4;
    this.#address[w] = pair.client0;
    this.#address[w + 1] = pair.client1;
    this.#address[w + 2] = pair.client2;
    this.#address[w + 3] = pair.client3;
    this.#intervalOf[slot] = interval;
    this.#admitted[slot] = 0;
    this.#overflow[slot] = 0;
    const bucket = this.#hashOf(pair, protocol, interval);
    this.#chain[slot] = this.#buckets[bucket]!;
    this.#buckets[bucket] = slot;
    // Most recently used: at the head.
    this.#prev[slot] = -1;
    this.#next[slot] = this.#head;
    if (this.#head >= 0) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail < 0) this.#tail = slot;
    return slot;
  }

  #touch(slot: number): void {
    if (this.#head === slot) return;
    this.#unlink(slot);
    this.#prev[slot] = -1;
    this.#next[slot] = this.#head;
    if (this.#head >= 0) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail < 0) this.#tail = slot;
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
  }

  /** Emits the slot's aggregate (if any) and frees it. */
  #remove(slot: number): void {
    this.#emit(slot);
    this.#unlink(slot);
    // Out of its hash chain.
    const w = slot * 4;
    const a = this.#address;
    const bucket = this.#hash(
      this.#version[slot]!,
      a[w]!,
      a[w + 1]!,
      a[w + 2]!,
      a[w + 3]!,
      this.#protocol[slot]!,
      this.#intervalOf[slot]!,
    );
    let at = this.#buckets[bucket]!;
    if (at === slot) this.#buckets[bucket] = this.#chain[slot]!;
    else {
      while (this.#chain[at]! !== slot) at = this.#chain[at]!;
      this.#chain[at] = this.#chain[slot]!;
    }
    this.#chain[slot] = -1;
    this.#firstPair[slot] = null;
    this.#freeList[this.#freeCount++] = slot;
    this.#used--;
  }

  #emit(slot: number): void {
    const count = this.#overflow[slot]!;
    if (count === 0) return;
    this.#overflow[slot] = 0;
    this.#pending--;
    const firstPair = this.#firstPair[slot]!;
    this.#firstPair[slot] = null;
    const version = this.#version[slot]!;
    const w = slot * 4;
    const a = this.#address;
    const transport = this.#transport[slot]!;
    const attributes: Attributes = {
      [ATTR_WIRESPAN_PROTOCOL]: this.#protocolName[slot]!,
      [ATTR_NETWORK_TRANSPORT]: transportName(transport),
      [ATTR_NETWORK_TYPE]: version === 6 ? 'ipv6' : 'ipv4',
      [ATTR_CLIENT_ADDRESS]: formatIp(
        version,
        a[w]! >>> 0,
        a[w + 1]! >>> 0,
        a[w + 2]! >>> 0,
        a[w + 3]! >>> 0,
      ),
      [ATTR_WIRESPAN_FLOOD_COUNT]: count,
      [ATTR_WIRESPAN_FLOOD_LIMIT]: this.#limit,
      [ATTR_WIRESPAN_FLOOD_SCOPE]: 'source',
      [ATTR_ERROR_TYPE]: 'unanswered_flood',
    };
    this.#send(this.#intervalOf[slot]!, firstPair, count, attributes);
  }
}

/** Closed aggregates remembered until settled; beyond, the newest are merged (held a little longer). */
const kMaxClosedHolds = 64;

/**
 * `run`'s checkpoint mark held back by pending flood aggregates (see the file comment). Spans are
 * numbered by the exporter's accepted count (span-batcher.ts's settled prefix) and each aggregate
 * is stamped with that count when its first pair arrived:
 * - mark(): a checkpoint candidate noted while an aggregate is pending gets the accepted count
 *   + 0.5 (its own pairs' spans are all accepted, the aggregate's is still to come), so it waits
 *   for the hold; one noted before the aggregate started has at most its stamp;
 * - settledThrough(): the settled prefix, but at most the oldest pending stamp; when aggregates
 *   have closed, at most their oldest stamp until every span offered by then (theirs among them)
 *   is settled.
 * Stamps only grow (accepted only grows), so the value only moves forward. Reads the guard only
 * when asked (a few times a second), nothing per pair.
 */
export class FloodCheckpointHold {
  readonly #oldestPending: () => number;
  /** The oldest pending stamp at the last look (Infinity: none). */
  #pending = Number.POSITIVE_INFINITY;
  /**
   * Aggregates closed since, oldest first: held at `#closedStamp` until the settled prefix
   * reaches `#closedThrough` (the spans offered when their closing was seen). Both only grow.
   */
  readonly #closedThrough: number[] = [];
  readonly #closedStamp: number[] = [];

  /** `oldestPending`: SpanFloodGuard's oldestPendingStamp. */
  constructor(oldestPending: () => number) {
    this.#oldestPending = oldestPending;
  }

  /** The checkpoint mark for a candidate noted now; `accepted`: spans accepted so far (all offered). */
  mark(accepted: number): number {
    this.#look(accepted);
    return this.#pending === Number.POSITIVE_INFINITY ? accepted : accepted + 0.5;
  }

  /**
   * `settled` (the queue's settled prefix) held back by the aggregates; `offered`: spans accepted
   * or in the request being built (an aggregate closed by now has its span among them).
   */
  settledThrough(settled: number, offered: number): number {
    this.#look(offered);
    const through = this.#closedThrough;
    let settledCount = 0;
    while (settledCount < through.length && through[settledCount]! <= settled) settledCount++;
    if (settledCount > 0) {
      through.splice(0, settledCount);
      this.#closedStamp.splice(0, settledCount);
    }
    return Math.min(settled, this.#pending, this.#closedStamp[0] ?? Number.POSITIVE_INFINITY);
  }

  /** Notes the aggregates that closed since the last look: the oldest pending stamp moved on. */
  #look(offered: number): void {
    const pending = this.#oldestPending();
    if (pending > this.#pending) {
      const last = this.#closedThrough.length - 1;
      // Merged into the newest entry: its (older) stamp now holds until these are settled too.
      if (last + 1 === kMaxClosedHolds) this.#closedThrough[last] = offered;
      else {
        this.#closedThrough.push(offered);
        this.#closedStamp.push(this.#pending);
      }
    }
    this.#pending = pending;
  }
}

function transportName(transport: number): string {
  return transport === 6 ? 'tcp' : transport === 17 ? 'udp' : String(transport);
}

/** seconds (possibly fractional) + nanos as an HrTime, exact for whole seconds (no 2^53 overflow). */
function hrTime(seconds: number, plusNanos: number): HrTime {
  const whole = Math.floor(seconds);
  const nanos = Math.round((seconds - whole) * 1e9) + plusNanos;
  return [whole + Math.floor(nanos / 1e9), nanos % 1e9];
}
