/** The HTTP matcher behind a real TcpReassembly, fed with hand-built segments (no decoder needed). */
import { httpMatcher } from '../../../agent/correlate/http/index.ts';
import type { HttpStreamProtocol } from '../../../agent/correlate/http/matcher.ts';
import type { Matcher } from '../../../agent/correlate/matcher.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import { diffNanos, OutcomeNames, type Pair, UnansweredReasonNames } from '../../../agent/correlate/pair.ts';
import {
  defaultTcpReassemblyOptions,
  TcpReassembly,
  type TcpReassemblyOptions,
} from '../../../agent/correlate/tcp-stream/reassembly.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';
import { captureTime, Feeder, type Segment } from '../tcp-stream/builder.ts';

export class HttpHarness {
  readonly pairs: Pair[] = [];
  readonly skips = new SkipCounters();
  readonly options: CorrelateOptions = defaultCorrelateOptions();
  readonly matcher: Matcher;
  readonly protocol: HttpStreamProtocol;
  readonly reassembly: TcpReassembly;
  readonly feeder: Feeder;

  constructor(
    configure?: (options: CorrelateOptions) => void,
    reassembly: Partial<TcpReassemblyOptions> = {},
  ) {
    configure?.(this.options);
    this.matcher = httpMatcher.create!({
      options: this.options,
      sink: { emit: (pair) => this.pairs.push(pair) },
      skips: this.skips,
    });
    this.protocol = this.matcher.stream as HttpStreamProtocol;
    this.reassembly = new TcpReassembly(
      [this.protocol],
      { ...defaultTcpReassemblyOptions(), ...reassembly },
      this.skips,
    );
    this.feeder = new Feeder(this.reassembly);
  }

  /** Feeds one segment at `atNanos`; returns its packet number. */
  feed(segment: Segment, atNanos: number): number {
    return this.feeder.feed(segment, atNanos);
  }

  /** Feeds segments 1 ms apart from `startNanos`; returns the last packet number. */
  feedAll(segments: Segment[], startNanos: number): number {
    return this.feeder.feedAll(segments, startNanos);
  }

  /** Capture time reached `atNanos`: what the correlator does once per second. */
  expire(atNanos: number): void {
    const [seconds, nanos] = captureTime(atNanos);
    this.matcher.expire(seconds, nanos);
    this.reassembly.expire(seconds, nanos);
  }

  /** End of input, in the correlator's order. */
  finish(): void {
    this.reassembly.flush();
    this.matcher.flush();
  }

  count(reason: string): number {
    return this.skips.get(skipReason(reason));
  }

  /** Non-zero skip counts by name. */
  counts(): Record<string, number> {
    return this.skips.toObject();
  }
}

/** A pair as a compact, exactly comparable record: packets of the four edges and the detail fields. */
export function summary(pair: Pair): Record<string, unknown> {
  const d = pair.detail ?? {};
  const out: Record<string, unknown> = {
    outcome: OutcomeNames[pair.outcome],
    method: d.method,
    target: d.target,
    status: d.status,
    request: [pair.request.packet, pair.request.lastPacket],
    response: pair.response ? [pair.response.packet, pair.response.lastPacket] : null,
  };
  if (pair.outcome !== 0) out.reason = UnansweredReasonNames[pair.unansweredReason];
  return out;
}

/** tshark's http.time: response last byte − request last byte, in ns. */
export function httpTime(pair: Pair): number {
  const response = pair.response!;
  return diffNanos(
    pair.request.lastSeconds,
    pair.request.lastNanos,
    response.lastSeconds,
    response.lastNanos,
  );
}

/** Response first byte − request last byte (time to first byte), in ns. */
export function timeToFirstByte(pair: Pair): number {
  const response = pair.response!;
  return diffNanos(
    pair.request.lastSeconds,
    pair.request.lastNanos,
    response.firstSeconds,
    response.firstNanos,
  );
}

export function get(target: string, extra = ''): string {
  return `GET ${target} HTTP/1.1\r\nHost: example.test\r\n${extra}\r\n`;
}

export function ok(body: string, status = '200 OK', extra = ''): string {
  return `HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
}
