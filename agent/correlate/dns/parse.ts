/**
 * DNS message parsing over (data, offset, length): the message's own bytes, without the TCP
 * length prefix (compression pointers are relative to `offset`).
 *
 * Invariants (hot path: every DNS packet):
 * - Never reads outside [offset, offset + length) and never throws, whatever the bytes.
 * - No allocation, except the name string of a question that is decoded (readQuestion, called
 *   once per new request), which is formatted through one module-level scratch buffer.
 * - Every loop consumes at least one byte per step or is bounded by a constant: name
 *   decompression stops after kMaxPointerHops pointers or once it has taken more steps than
 *   the message has bytes (only a loop can do that), so a message costs O(length).
 *
 * Names are formatted as tshark prints dns.qry.name (checked against tshark 4.0.17):
 * - labels joined by '.', case kept, '.' and '\' inside a label left as they are;
 * - ASCII control bytes and DEL as C escapes: \a \b \t \n \v \f \r, others 3-digit octal (\000);
 * - other bytes decoded as UTF-8 (invalid sequences become U+FFFD); code points glib does not
 *   call printable (Cc, Cf, Cn) as \uXXXX (\UXXXXXXXX beyond the BMP);
 * - the empty (root) name is "<Root>"; more than 253 characters (before escaping) is
 *   "<Name too long>"; more than 255 compression pointers is
 *   "<Name contains a pointer that loops>" (tshark's placeholders and limits).
 */
import { Buffer } from 'node:buffer';

export const kDnsHeaderLength = 12;
/** tshark's limit (MAX_DNAME_LEN) on pointers followed in one name before calling it a loop. */
const kMaxPointerHops = 255;
/** Longest name text (labels and dots, before escaping) tshark prints (RFC 1035's 253). */
const kMaxNameText = 253;
const kTypeOpt = 41;

export const kRootName = '<Root>';
export const kNameTooLong = '<Name too long>';
export const kNameLoops = '<Name contains a pointer that loops>';

/** The fixed 12-byte header (RFC 1035 4.1.1). Reused: readHeader overwrites every field. */
export class DnsHeader {
  id = 0;
  /** QR bit: true for a response. */
  isResponse = false;
  opcode = 0;
  /** The header's 4-bit RCODE (readExtendedRcode adds an OPT record's upper bits). */
  rcode = 0;
  questionCount = 0;
  answerCount = 0;
  authorityCount = 0;
  additionalCount = 0;
}

/** Reads the header; false (out untouched) when the message is shorter than 12 bytes. */
export function readHeader(data: Uint8Array, offset: number, length: number, out: DnsHeader): boolean {
  if (length < kDnsHeaderLength || offset + length > data.length) return false;
  const flags = (data[offset + 2]! << 8) | data[offset + 3]!;
  out.id = (data[offset]! << 8) | data[offset + 1]!;
  out.isResponse = (flags & 0x8000) !== 0;
  out.opcode = (flags >> 11) & 0xf;
  out.rcode = flags & 0xf;
  out.questionCount = (data[offset + 4]! << 8) | data[offset + 5]!;
  out.answerCount = (data[offset + 6]! << 8) | data[offset + 7]!;
  out.authorityCount = (data[offset + 8]! << 8) | data[offset + 9]!;
  out.additionalCount = (data[offset + 10]! << 8) | data[offset + 11]!;
  return true;
}

export const QuestionStatus = {
  /** name, type and qclass are set. */
  Ok: 0,
  /** The message has no question (QDCOUNT 0). */
  Absent: 1,
  /** name is kNameLoops; type and qclass are read after the name's first pointer. */
  NameLoops: 2,
  /** name is kNameTooLong; type and qclass are set. */
  NameTooLong: 3,
  /** Truncated, a reserved label type or a pointer out of the message: name null, type/qclass -1. */
  Malformed: 4,
} as const;
export type QuestionStatus = (typeof QuestionStatus)[keyof typeof QuestionStatus];

/** The first question of a message. Reused: readQuestion overwrites every field. */
export class DnsQuestion {
  name: string | null = null;
  type = -1;
  qclass = -1;
}

// Scratch for one name's formatted bytes: 253 text bytes, each escaped to at most 4 ("\\ooo").
const nameScratch = Buffer.allocUnsafe(kMaxNameText * 4);
/** C escape letter per ASCII control byte (0 = none: octal). */
const kEscapeLetter = new Uint8Array(32);
kEscapeLetter.set([0x61, 0x62, 0x74, 0x6e, 0x76, 0x66, 0x72], 7); // \a \b \t \n \v \f \r
const kNotPrintable = /[\p{Cc}\p{Cf}\p{Cn}]/u;
const kNotPrintableAll = /[\p{Cc}\p{Cf}\p{Cn}]/gu;

function universalName(char: string): string {
  const code = char.codePointAt(0)!;
  const hex = code.toString(16).toUpperCase();
  return code > 0xffff ? `\\U${hex.padStart(8, '0')}` : `\\u${hex.padStart(4, '0')}`;
}

/** Appends one label's bytes, escaped, to nameScratch at `written`; returns the new end. */
function appendLabel(data: Uint8Array, from: number, to: number, written: number): number {
  for (let i = from; i < to; i++) {
    const byte = data[i]!;
    if (byte >= 0x20 && byte !== 0x7f) {
      nameScratch[written++] = byte;
      continue;
    }
    nameScratch[written++] = 0x5c;
    const letter = byte < 32 ? kEscapeLetter[byte]! : 0;
    if (letter !== 0) {
      nameScratch[written++] = letter;
    } else {
      nameScratch[written++] = 0x30 + (byte >> 6);
      nameScratch[written++] = 0x30 + ((byte >> 3) & 7);
      nameScratch[written++] = 0x30 + (byte & 7);
    }
  }
  return written;
}

/** Whether any byte of nameScratch[0, written) is outside ASCII. */
function hasNonAscii(written: number): boolean {
  for (let i = 0; i < written; i++) if (nameScratch[i]! >= 0x80) return true;
  return false;
}

const NameEnd = { Terminator: 0, Loop: 1, Malformed: 2 } as const;

/**
 * Decodes the first question (name with compression, type, class) of the message whose header
 * is `header`, into `out`. Allocates the name string.
 */
export function readQuestion(
  data: Uint8Array,
  offset: number,
  length: number,
  header: DnsHeader,
  out: DnsQuestion,
): QuestionStatus {
  out.name = null;
  out.type = -1;
  out.qclass = -1;
  if (header.questionCount === 0) return QuestionStatus.Absent;
  const end = Math.min(offset + length, data.length);
  let pos = offset + kDnsHeaderLength;
  /** Where the question goes on after the name: past its terminator or its first pointer. */
  let nameEnd = -1;
  let hops = 0;
  let steps = 0;
  let textLength = 0;
  let written = 0;
  let how: (typeof NameEnd)[keyof typeof NameEnd] = NameEnd.Malformed;
  while (pos < end) {
    // A walk that does not loop visits each byte at most once: more steps than bytes is a loop.
    if (++steps > length) {
      how = NameEnd.Loop;
      break;
    }
    const labelLength = data[pos]!;
    if (labelLength === 0) {
      if (nameEnd < 0) nameEnd = pos + 1;
      how = NameEnd.Terminator;
      break;
    }
    const kind = labelLength & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end) break;
      if (nameEnd < 0) nameEnd = pos + 2;
      if (++hops > kMaxPointerHops) {
        how = NameEnd.Loop;
        break;
      }
      pos = offset + (((labelLength & 0x3f) << 8) | data[pos + 1]!);
      continue;
    }
    // 0x40 (extended, RFC 2673) and 0x80 label types are not decoded.
    if (kind !== 0 || pos + 1 + labelLength > end) break;
    const separator = textLength > 0 ? 1 : 0;
    textLength += separator + labelLength;
    if (textLength <= kMaxNameText) {
      if (separator === 1) nameScratch[written++] = 0x2e;
      written = appendLabel(data, pos + 1, pos + 1 + labelLength, written);
    }
    pos += 1 + labelLength;
  }
  if (how === NameEnd.Malformed || nameEnd + 4 > end) return QuestionStatus.Malformed;
  out.type = (data[nameEnd]! << 8) | data[nameEnd + 1]!;
  out.qclass = (data[nameEnd + 2]! << 8) | data[nameEnd + 3]!;
  if (how === NameEnd.Loop) {
    out.name = kNameLoops;
    return QuestionStatus.NameLoops;
  }
  if (textLength > kMaxNameText) {
    out.name = kNameTooLong;
    return QuestionStatus.NameTooLong;
  }
  if (textLength === 0) {
    out.name = kRootName;
  } else if (!hasNonAscii(written)) {
    out.name = nameScratch.toString('latin1', 0, written);
  } else {
    const text = nameScratch.toString('utf8', 0, written);
    out.name = kNotPrintable.test(text) ? text.replace(kNotPrintableAll, universalName) : text;
  }
  return QuestionStatus.Ok;
}

/** Position just past the name at `pos` in place (a pointer ends it), or -1 when malformed. */
function skipName(data: Uint8Array, pos: number, end: number): number {
  while (pos < end) {
    const labelLength = data[pos]!;
    if (labelLength === 0) return pos + 1;
    if ((labelLength & 0xc0) === 0xc0) return pos + 2 <= end ? pos + 2 : -1;
    if ((labelLength & 0xc0) !== 0) return -1;
    pos += 1 + labelLength;
  }
  return -1;
}

/** Position just past the resource record at `pos`, or -1 when it does not fit. */
function skipRecord(data: Uint8Array, pos: number, end: number): number {
  pos = skipName(data, pos, end);
  if (pos < 0 || pos + 10 > end) return -1;
  const next = pos + 10 + ((data[pos + 8]! << 8) | data[pos + 9]!);
  return next <= end ? next : -1;
}

/**
 * The response code, extended by the first OPT record's upper 8 bits (EDNS, RFC 6891: BADVERS
 * is 16) when the additional section has one; the header's RCODE when it has none; -1 when the
 * sections do not fit in the message (malformed or cut by the snaplen).
 */
export function readExtendedRcode(
  data: Uint8Array,
  offset: number,
  length: number,
  header: DnsHeader,
): number {
  if (header.additionalCount === 0) return header.rcode;
  const end = Math.min(offset + length, data.length);
  let pos = offset + kDnsHeaderLength;
  for (let i = 0; i < header.questionCount; i++) {
    pos = skipName(data, pos, end);
    if (pos < 0 || pos + 4 > end) return -1;
    pos += 4;
  }
  const records = header.answerCount + header.authorityCount;
  for (let i = 0; i < records; i++) {
    pos = skipRecord(data, pos, end);
    if (pos < 0) return -1;
  }
  for (let i = 0; i < header.additionalCount; i++) {
    const nameEnd = skipName(data, pos, end);
    if (nameEnd < 0 || nameEnd + 10 > end) return -1;
    if (((data[nameEnd]! << 8) | data[nameEnd + 1]!) === kTypeOpt) {
      // OPT's TTL field starts with EXTENDED-RCODE, the upper 8 bits of the 12-bit code.
      return (data[nameEnd + 4]! << 4) | header.rcode;
    }
    pos = skipRecord(data, pos, end);
    if (pos < 0) return -1;
  }
  return header.rcode;
}
