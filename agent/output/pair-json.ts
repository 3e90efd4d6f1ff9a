/**
 * The JSONL schema of a pair (docs/output.md "JSONL pairs"): a public interface that users pipe
 * into jq, ClickHouse or pandas. Field order is fixed; timestamps are RFC 3339 UTC with nine
 * fraction digits; duration_ns is an exact integer.
 */

import type { MessageEdges, Pair } from '../correlate/pair.ts';
import { diffNanos, Outcome, OutcomeNames, UnansweredReasonNames } from '../correlate/pair.ts';
import { formatIp } from '../decode/format.ts';
import { ipProtocolName } from '../decode/packet.ts';
import { type ByteBuffer, fragment, writeDigits } from './byte-buffer.ts';
import { formatTimestamp } from './time.ts';

function messageJson(edges: MessageEdges): Record<string, unknown> {
  return {
    first: formatTimestamp(edges.firstSeconds, edges.firstNanos),
    last: formatTimestamp(edges.lastSeconds, edges.lastNanos),
    packets: edges.packets,
    bytes: edges.bytes,
  };
}

function sourceJson(edges: MessageEdges, fileNames: readonly string[]): Record<string, unknown> {
  const source: Record<string, unknown> = { file: fileNames[edges.fileId] ?? null, packet: edges.packet };
  if (edges.lastPacket !== edges.packet || edges.lastFileId !== edges.fileId) {
    if (edges.lastFileId !== edges.fileId) source.last_file = fileNames[edges.lastFileId] ?? null;
    source.last_packet = edges.lastPacket;
  }
  return source;
}

/**
 * The pair as a plain object in the schema's field order: the reference that pairToJson's
 * hand-built text must equal (JSON.stringify of this), and a form exporters can reuse.
 */
export function pairToObject(pair: Pair, fileNames: readonly string[]): Record<string, unknown> {
  const request = pair.request;
  const response = pair.response;
  const line: Record<string, unknown> = {
    outcome: OutcomeNames[pair.outcome],
    protocol: pair.protocol,
    transport: ipProtocolName(pair.transport),
    client: {
      address: formatIp(pair.ipVersion, pair.client0, pair.client1, pair.client2, pair.client3),
      port: pair.clientPort,
    },
    server: {
      address: formatIp(pair.ipVersion, pair.server0, pair.server1, pair.server2, pair.server3),
      port: pair.serverPort,
    },
    start: formatTimestamp(request.firstSeconds, request.firstNanos),
  };
  if (response) {
    line.end = formatTimestamp(response.lastSeconds, response.lastNanos);
    // A number, as JSON.parse gives it: exact below 2^53 ns (~104 days), rounded beyond.
    line.duration_ns = diffNanos(
      request.firstSeconds,
      request.firstNanos,
      response.lastSeconds,
      response.lastNanos,
    );
  }
  if (pair.outcome === Outcome.Unanswered) {
    line.reason = UnansweredReasonNames[pair.unansweredReason];
    line.given_up = formatTimestamp(pair.givenUpSeconds, pair.givenUpNanos);
  }
  if (pair.captureGap) line.capture_gap = true;
  line.request = messageJson(request);
  if (response) line.response = messageJson(response);
  if (pair.detail) line[pair.protocol] = pair.detail;
  const source: Record<string, unknown> = { request: sourceJson(request, fileNames) };
  if (response) source.response = sourceJson(response, fileNames);
  line.source = source;
  return line;
}

/**
 * Renders pairs as JSON lines straight into bytes (a ByteBuffer): no intermediate objects or
 * strings except a protocol's small detail object, timestamps reuse the encoded date-and-time
 * of the last second seen, each file name is encoded once. The bytes equal, exactly, the UTF-8 of
 * JSON.stringify(pairToObject(pair)) plus a newline (tested on every corpus pair).
 */
export class PairJsonWriter {
  /** The file table (it may grow while pairs are written: `wirespan run` adds files as they appear). */
  readonly #fileNames: readonly string[];
  readonly #quotedFiles: Uint8Array[] = [];
  #prefixSeconds = Number.NaN;
  /** `"YYYY-MM-DDTHH:MM:SS.` of #prefixSeconds. */
  #prefix: Uint8Array = new Uint8Array(0);
  /** The first second of #prefix's day. */
  #prefixDay = Number.NaN;
  /** Line heads per protocol, by outcome * 2 + (tcp 0, udp 1). */
  readonly #heads = new Map<string, (Uint8Array | undefined)[]>();

  constructor(fileNames: readonly string[]) {
    this.#fileNames = fileNames;
  }

  #time(out: ByteBuffer, seconds: number, nanos: number): void {
    if (seconds !== this.#prefixSeconds) this.#setPrefix(seconds);
    // `"YYYY-MM-DDTHH:MM:SS.` + 9 digits + `Z"` in one reservation.
    const prefix = this.#prefix;
    const n = prefix.length;
    out.reserve(n + 11);
    const bytes = out.bytes;
    let at = out.length;
    for (let i = 0; i < n; i++) bytes[at++] = prefix[i]!;
    at += 9;
    writeDigits(bytes, at, nanos | 0, 9);
    bytes[at++] = 0x5a;
    bytes[at++] = kQuote;
    out.length = at;
  }

  /**
   * Makes #prefix that of `seconds`: within its day by rewriting HH:MM:SS in place (a request and
   * its response a second apart alternate between two seconds, line after line), else from
   * formatTimestamp's text.
   */
  #setPrefix(seconds: number): void {
    this.#prefixSeconds = seconds;
    const secondOfDay = seconds - this.#prefixDay;
    if (!(secondOfDay >= 0 && secondOfDay < 86_400)) {
      const text = formatTimestamp(seconds, 0);
      this.#prefix = fragment(`"${text.slice(0, text.length - 10)}`);
      this.#prefixDay = Math.floor(seconds / 86_400) * 86_400;
      return;
    }
    const prefix = this.#prefix;
    const at = prefix.length - 9;
    const hours = Math.floor(secondOfDay / 3600);
    const minutes = Math.floor((secondOfDay % 3600) / 60);
    const secs = secondOfDay % 60;
    prefix[at] = 0x30 + Math.floor(hours / 10);
    prefix[at + 1] = 0x30 + (hours % 10);
    prefix[at + 3] = 0x30 + Math.floor(minutes / 10);
    prefix[at + 4] = 0x30 + (minutes % 10);
    prefix[at + 6] = 0x30 + Math.floor(secs / 10);
    prefix[at + 7] = 0x30 + (secs % 10);
  }

  /** `{"outcome":"…","protocol":"…","transport":"…","client":{"address":` of a pair, encoded once per kind. */
  #head(out: ByteBuffer, pair: Pair): void {
    const transport = pair.transport === 6 ? 0 : pair.transport === 17 ? 1 : -1;
    let heads = this.#heads.get(pair.protocol);
    if (heads === undefined) {
      heads = [];
      this.#heads.set(pair.protocol, heads);
    }
    const index = pair.outcome * 2 + transport;
    let head = transport < 0 ? undefined : heads[index];
    if (head === undefined) {
      head = fragment(
        `{"outcome":"${OutcomeNames[pair.outcome]}","protocol":"${pair.protocol}","transport":"${ipProtocolName(pair.transport)}","client":{"address":`,
      );
      if (transport >= 0) heads[index] = head;
    }
    out.raw(head);
  }

  #address(out: ByteBuffer, version: number, w0: number, w1: number, w2: number, w3: number): void {
    out.byte(kQuote);
    if (version === 4) out.ipv4(w0);
    else if (version === 6) out.ipv6(w0, w1, w2, w3);
    out.byte(kQuote);
  }

  #file(out: ByteBuffer, fileId: number): void {
    let quoted = this.#quotedFiles[fileId];
    if (quoted === undefined) {
      const name = this.#fileNames[fileId];
      if (name === undefined) {
        out.raw(kNull);
        return;
      }
      quoted = fragment(JSON.stringify(name));
      this.#quotedFiles[fileId] = quoted;
    }
    out.raw(quoted);
  }

  #message(out: ByteBuffer, edges: MessageEdges): void {
    out.raw(kFirst);
    this.#time(out, edges.firstSeconds, edges.firstNanos);
    out.raw(kLast);
    this.#time(out, edges.lastSeconds, edges.lastNanos);
    out.raw(kPackets);
    out.integer(edges.packets);
    out.raw(kBytes);
    out.integer(edges.bytes);
    out.byte(kCloseBrace);
  }

  #source(out: ByteBuffer, edges: MessageEdges): void {
    out.raw(kFile);
    this.#file(out, edges.fileId);
    out.raw(kPacket);
    out.integer(edges.packet);
    if (edges.lastPacket !== edges.packet || edges.lastFileId !== edges.fileId) {
      if (edges.lastFileId !== edges.fileId) {
        out.raw(kLastFile);
        this.#file(out, edges.lastFileId);
      }
      out.raw(kLastPacket);
      out.integer(edges.lastPacket);
    }
    out.byte(kCloseBrace);
  }

  /** Appends the pair's JSON line, newline included. */
  write(out: ByteBuffer, pair: Pair): void {
    const request = pair.request;
    const response = pair.response;
    this.#head(out, pair);
    this.#address(out, pair.ipVersion, pair.client0, pair.client1, pair.client2, pair.client3);
    out.raw(kPort);
    out.integer(pair.clientPort);
    out.raw(kServer);
    this.#address(out, pair.ipVersion, pair.server0, pair.server1, pair.server2, pair.server3);
    out.raw(kPort);
    out.integer(pair.serverPort);
    out.raw(kStart);
    this.#time(out, request.firstSeconds, request.firstNanos);
    if (response) {
      out.raw(kEnd);
      this.#time(out, response.lastSeconds, response.lastNanos);
      out.raw(kDuration);
      out.nanosBetween(request.firstSeconds, request.firstNanos, response.lastSeconds, response.lastNanos);
    }
    if (pair.outcome === Outcome.Unanswered) {
      out.raw(kReason);
      out.ascii(UnansweredReasonNames[pair.unansweredReason]);
      out.raw(kGivenUp);
      this.#time(out, pair.givenUpSeconds, pair.givenUpNanos);
    }
    if (pair.captureGap) out.raw(kCaptureGap);
    out.raw(kRequest);
    this.#message(out, request);
    if (response) {
      out.raw(kResponse);
      this.#message(out, response);
    }
    if (pair.detail) {
      out.raw(kCommaQuote);
      out.ascii(pair.protocol);
      out.raw(kQuoteColon);
      out.json(pair.detail);
    }
    out.raw(kSourceRequest);
    this.#source(out, request);
    if (response) {
      out.raw(kResponseKey);
      this.#source(out, response);
    }
    out.raw(kLineEnd);
  }
}

const kQuote = 0x22;
const kCloseBrace = 0x7d;
const kNull = fragment('null');
const kPort = fragment(',"port":');
const kServer = fragment('},"server":{"address":');
const kStart = fragment('},"start":');
const kEnd = fragment(',"end":');
const kDuration = fragment(',"duration_ns":');
const kReason = fragment(',"reason":"');
const kGivenUp = fragment('","given_up":');
/** Only on pairs whose connection lost bytes in the capture during the exchange. */
const kCaptureGap = fragment(',"capture_gap":true');
const kRequest = fragment(',"request":');
const kResponse = fragment(',"response":');
const kFirst = fragment('{"first":');
const kLast = fragment(',"last":');
const kPackets = fragment(',"packets":');
const kBytes = fragment(',"bytes":');
const kCommaQuote = fragment(',"');
const kQuoteColon = fragment('":');
const kSourceRequest = fragment(',"source":{"request":');
const kResponseKey = fragment(',"response":');
const kFile = fragment('{"file":');
const kPacket = fragment(',"packet":');
const kLastFile = fragment(',"last_file":');
const kLastPacket = fragment(',"last_packet":');
const kLineEnd = fragment('}}\n');

/**
 * The original engine's human-readable block (REQ / RES / LATENCY lines), kept for people
 * used to it. Unanswered requests print REQ and a NO RESPONSE line.
 */
export function pairToText(pair: Pair): string {
  const transport = ipProtocolName(pair.transport).toUpperCase();
  const client = `${formatIp(pair.ipVersion, pair.client0, pair.client1, pair.client2, pair.client3)}:${pair.clientPort}`;
  const server = `${formatIp(pair.ipVersion, pair.server0, pair.server1, pair.server2, pair.server3)}:${pair.serverPort}`;
  const request = pair.request;
  const lines = [
    `REQ: ${client} -> ${server} [${transport}] ${pair.protocol} Time: ${formatTimestamp(request.firstSeconds, request.firstNanos)}`,
  ];
  const response = pair.response;
  if (response) {
    lines.push(
      `RES: ${server} -> ${client} [${transport}] Time: ${formatTimestamp(response.lastSeconds, response.lastNanos)}`,
    );
    lines.push(
      `LATENCY: ${exactNanosBetween(request.firstSeconds, request.firstNanos, response.lastSeconds, response.lastNanos)} ns`,
    );
  } else {
    lines.push(`NO RESPONSE: ${UnansweredReasonNames[pair.unansweredReason]}`);
  }
  return lines.join('\n');
}

/** Nanoseconds from (s1, n1) to (s2, n2) in decimal, exact beyond 2^53 too. */
export function exactNanosBetween(s1: number, n1: number, s2: number, n2: number): string {
  const nanos = diffNanos(s1, n1, s2, n2);
  if (Number.isSafeInteger(nanos)) return String(nanos);
  return String(BigInt(s2 - s1) * 1_000_000_000n + BigInt(n2 - n1));
}
