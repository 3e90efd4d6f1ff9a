/**
 * HPACK header block decoding (RFC 7541) for one direction of an HTTP/2 connection: static and
 * dynamic table, integer and string literals, Huffman (huffman.ts), dynamic table size updates.
 *
 * Honest about what it cannot know: on a connection whose start was not captured (or after a
 * header block that could not be read), the encoder's older table entries are unknown. The
 * decoder then runs `partial`: entries it sees inserted are known (they are the newest, so the
 * encoder evicts them last), a reference beyond them yields an undecodable field (name and
 * value null) instead of an error.
 *
 * Bounded: the table never holds more than kMaxTableBytes (a larger size update is clamped and
 * counted; the table goes partial), and the bytes of entries it keeps are reserved from the
 * correlator's ParserBufferBudget (refused: the entry is kept as a placeholder, its size
 * counted but its strings dropped, so later indices still line up).
 */
import type { ParserBufferBudget } from '../tcp-stream/parser-buffers.ts';
import { huffmanDecode } from './huffman.ts';

/** Largest dynamic table honoured (SETTINGS_HEADER_TABLE_SIZE is 4,096 by default; 64 KiB is far above common use). */
export const kMaxTableBytes = 64 * 1024;
/** Decoded header list size (RFC 7540 6.5.2: names + values + 32 per field) beyond which fields are no longer reported. */
export const kMaxHeaderListBytes = 64 * 1024;
const kEntryOverhead = 32;

/** RFC 7541 Appendix A. */
const kStaticNames = [
  '',
  ':authority',
  ':method',
  ':method',
  ':path',
  ':path',
  ':scheme',
  ':scheme',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'accept',
  'access-control-allow-origin',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-range',
  'content-type',
  'cookie',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'link',
  'location',
  'max-forwards',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'refresh',
  'retry-after',
  'server',
  'set-cookie',
  'strict-transport-security',
  'transfer-encoding',
  'user-agent',
  'vary',
  'via',
  'www-authenticate',
];
const kStaticValues = [
  '',
  '',
  'GET',
  'POST',
  '/',
  '/index.html',
  'http',
  'https',
  '200',
  '204',
  '206',
  '304',
  '400',
  '404',
  '500',
  '',
  'gzip, deflate',
];
const kStaticCount = 61;

/** Receives a block's fields in order. null: the field could not be decoded (an unknown table entry). */
export interface HeaderSink {
  field(name: string | null, value: string | null): void;
}

export const HpackResult = {
  Ok: 0,
  /** Malformed block (bad integer, string, index or Huffman code): the table state is lost, the decoder goes partial. */
  Malformed: 1,
} as const;
export type HpackResult = (typeof HpackResult)[keyof typeof HpackResult];

export class HpackDecoder {
  readonly #budget: ParserBufferBudget;
  /** Dynamic table as a ring, newest at #newest, entry i (0 = newest) at (#newest - i) mod capacity. */
  #names: (string | null)[] = [];
  #values: (string | null)[] = [];
  #sizes: number[] = [];
  /** Bytes reserved from the budget per entry (0 for placeholders). */
  #reserved: number[] = [];
  #count = 0;
  #newest = -1;
  #tableBytes = 0;
  #maxTableBytes = 4096;
  #scratch = new Uint8Array(256);
  /** The encoder may reference entries this decoder never saw (start not captured, or state lost). */
  partial: boolean;
  /** Fields of the last block that could not be decoded. */
  undecodable = 0;
  /** Whether the last block's fields passed kMaxHeaderListBytes (the rest were not reported). */
  listTooLarge = false;
  /** Size updates above kMaxTableBytes (clamped). */
  clampedUpdates = 0;

  constructor(budget: ParserBufferBudget, partial: boolean) {
    this.#budget = budget;
    this.partial = partial;
  }

  /** Decodes one complete header block (HEADERS + CONTINUATION payloads, padding and priority removed). */
  decode(data: Uint8Array, offset: number, length: number, sink: HeaderSink): HpackResult {
    this.undecodable = 0;
    this.listTooLarge = false;
    let listBytes = 0;
    let at = offset;
    const end = offset + length;
    while (at < end) {
      const first = data[at]!;
      let index: number;
      let name: string | null;
      let value: string | null;
      if (first & 0x80) {
        // 6.1 Indexed header field.
        at = this.#integer(data, at, end, 7);
        index = this.#int;
        if (at < 0 || index === 0) return this.#malformed();
        if (!this.#lookup(index)) return this.#malformed();
        name = this.#foundName;
        value = this.#foundValue;
      } else if ((first & 0xe0) === 0x20) {
        // 6.3 Dynamic table size update.
        at = this.#integer(data, at, end, 5);
        if (at < 0) return this.#malformed();
        this.#resize(this.#int);
        continue;
      } else {
        // 6.2 Literal: with incremental indexing (01), without (0000) or never indexed (0001).
        const indexing = (first & 0xc0) === 0x40;
        at = this.#integer(data, at, end, indexing ? 6 : 4);
        if (at < 0) return this.#malformed();
        index = this.#int;
        if (index === 0) {
          at = this.#string(data, at, end);
          if (at < 0) return this.#malformed();
          name = this.#text;
        } else {
          if (!this.#lookup(index)) return this.#malformed();
          name = this.#foundName;
        }
        const nameBytes = name === null ? this.#foundNameBytes : name.length;
        at = this.#string(data, at, end);
        if (at < 0) return this.#malformed();
        value = this.#text;
        if (indexing) this.#insert(name, value, nameBytes + this.#textBytes + kEntryOverhead);
      }
      if (name === null || value === null) this.undecodable++;
      listBytes += (name?.length ?? 0) + (value?.length ?? 0) + kEntryOverhead;
      if (listBytes > kMaxHeaderListBytes) this.listTooLarge = true;
      else sink.field(name, value);
    }
    return HpackResult.Ok;
  }

  /** The connection's state was lost (a header block not read): every older entry becomes unknown. */
  lose(): void {
    this.#clear();
    this.partial = true;
  }

  /** Gives back every reserved byte (the connection is gone). */
  release(): void {
    this.#clear();
  }

  // Internals --------------------------------------------------------------------------------

  #int = 0;
  #text: string | null = null;
  #textBytes = 0;
  #foundName: string | null = null;
  #foundValue: string | null = null;
  #foundNameBytes = 0;

  #malformed(): HpackResult {
    this.lose();
    return HpackResult.Malformed;
  }

  /** 5.1 integer with an n-bit prefix at data[at]; sets #int, returns the next offset or -1. */
  #integer(data: Uint8Array, at: number, end: number, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = data[at++]! & mask;
    if (value === mask) {
      let shift = 0;
      for (;;) {
        if (at >= end || shift > 21) return -1; // longer than 2^28: no sane header block needs it
        const byte = data[at++]!;
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if ((byte & 0x80) === 0) break;
      }
    }
    this.#int = value;
    return at;
  }

  /** 5.2 string literal; sets #text (latin1) and #textBytes, returns the next offset or -1. */
  #string(data: Uint8Array, at: number, end: number): number {
    if (at >= end) return -1;
    const huffman = (data[at]! & 0x80) !== 0;
    at = this.#integer(data, at, end, 7);
    if (at < 0) return -1;
    const length = this.#int;
    if (length > end - at) return -1;
    if (!huffman) {
      this.#text = latin1(data, at, length);
      this.#textBytes = length;
      return at + length;
    }
    // Shortest code is 5 bits: at most 8/5 symbols per byte.
    const most = Math.ceil((length * 8) / 5);
    if (this.#scratch.length < most) this.#scratch = new Uint8Array(Math.max(most, this.#scratch.length * 2));
    const decoded = huffmanDecode(data, at, length, this.#scratch);
    if (decoded < 0) return -1;
    this.#text = latin1(this.#scratch, 0, decoded);
    this.#textBytes = decoded;
    return at + length;
  }

  /** Resolves a 1-based index; false when malformed. Unknown (partial) entries resolve to null. */
  #lookup(index: number): boolean {
    if (index <= kStaticCount) {
      this.#foundName = kStaticNames[index]!;
      this.#foundValue = kStaticValues[index] ?? '';
      this.#foundNameBytes = this.#foundName.length;
      return true;
    }
    const dynamic = index - kStaticCount - 1;
    if (dynamic >= this.#count) {
      if (!this.partial) return false;
      this.#foundName = this.#foundValue = null;
      this.#foundNameBytes = 0;
      return true;
    }
    const capacity = this.#names.length;
    const slot = (this.#newest - dynamic + capacity) % capacity;
    this.#foundName = this.#names[slot]!;
    this.#foundValue = this.#values[slot]!;
    // A placeholder's name size is unknown to a later literal that reuses it: count its entry size.
    this.#foundNameBytes =
      this.#foundName === null ? this.#sizes[slot]! - kEntryOverhead : this.#foundName.length;
    return true;
  }

  #insert(name: string | null, value: string | null, size: number): void {
    this.#evictTo(this.#maxTableBytes - size);
    if (size > this.#maxTableBytes) return; // 4.4: an entry larger than the table empties it
    if (this.#count === this.#names.length) this.#grow();
    const capacity = this.#names.length;
    this.#newest = (this.#newest + 1) % capacity;
    const keep = name !== null && value !== null && this.#budget.reserve(size);
    this.#names[this.#newest] = keep ? name : null;
    this.#values[this.#newest] = keep ? value : null;
    this.#sizes[this.#newest] = size;
    this.#reserved[this.#newest] = keep ? size : 0;
    this.#count++;
    this.#tableBytes += size;
  }

  #resize(size: number): void {
    if (size > kMaxTableBytes) {
      this.clampedUpdates++;
      size = kMaxTableBytes;
      // The encoder keeps entries this table will not: references to them are unknown from now on.
      this.partial = true;
    }
    this.#maxTableBytes = size;
    this.#evictTo(size);
  }

  #evictTo(bytes: number): void {
    const capacity = this.#names.length;
    while (this.#count > 0 && this.#tableBytes > bytes) {
      const oldest = (this.#newest - this.#count + 1 + capacity) % capacity;
      this.#tableBytes -= this.#sizes[oldest]!;
      this.#budget.release(this.#reserved[oldest]!);
      this.#names[oldest] = this.#values[oldest] = null;
      this.#count--;
    }
  }

  #grow(): void {
    const capacity = this.#names.length;
    const grown = Math.max(8, capacity * 2);
    const names: (string | null)[] = new Array(grown).fill(null);
    const values: (string | null)[] = new Array(grown).fill(null);
    const sizes: number[] = new Array(grown).fill(0);
    const reserved: number[] = new Array(grown).fill(0);
    // Oldest first into 0..count-1.
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#newest - this.#count + 1 + i + capacity) % capacity;
      names[i] = this.#names[from]!;
      values[i] = this.#values[from]!;
      sizes[i] = this.#sizes[from]!;
      reserved[i] = this.#reserved[from]!;
    }
    this.#names = names;
    this.#values = values;
    this.#sizes = sizes;
    this.#reserved = reserved;
    this.#newest = this.#count - 1;
  }

  #clear(): void {
    this.#evictTo(0);
    this.#newest = -1;
  }
}

function latin1(data: Uint8Array, offset: number, length: number): string {
  return Buffer.from(data.buffer, data.byteOffset + offset, length).toString('latin1');
}
