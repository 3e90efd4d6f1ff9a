/** Builds pcap and pcapng files in memory for the capture reader tests. */

type Bytes = Uint8Array | readonly number[];

/** Appends integers in a chosen byte order to a growing byte array. */
class ByteWriter {
  littleEndian: boolean;
  #bytes = new Uint8Array(256);
  #length = 0;

  constructor(littleEndian: boolean) {
    this.littleEndian = littleEndian;
  }

  get length(): number {
    return this.#length;
  }

  toBytes(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }

  u8(value: number): this {
    this.#reserve(1);
    this.#bytes[this.#length++] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    return this.littleEndian ? this.u8(value).u8(value >>> 8) : this.u8(value >>> 8).u8(value);
  }

  u32(value: number): this {
    return this.littleEndian
      ? this.u16(value & 0xffff).u16(value >>> 16)
      : this.u16(value >>> 16).u16(value & 0xffff);
  }

  /** 64-bit value as the pcapng timestamp layout: high word first, each in the writer's byte order. */
  u64Words(value: bigint): this {
    const unsigned = BigInt.asUintN(64, value);
    return this.u32(Number(unsigned >> 32n)).u32(Number(unsigned & 0xffffffffn));
  }

  /** 64-bit value as a plain integer in the writer's byte order (pcapng option values). */
  u64(value: bigint): this {
    const unsigned = BigInt.asUintN(64, value);
    const low = Number(unsigned & 0xffffffffn);
    const high = Number(unsigned >> 32n);
    return this.littleEndian ? this.u32(low).u32(high) : this.u32(high).u32(low);
  }

  append(data: Bytes): this {
    this.#reserve(data.length);
    this.#bytes.set(data, this.#length);
    this.#length += data.length;
    return this;
  }

  padTo4(): this {
    while (this.#length % 4 !== 0) this.u8(0);
    return this;
  }

  #reserve(count: number): void {
    if (this.#length + count <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#length + count, this.#bytes.length * 2));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}

export interface PcapOptions {
  littleEndian?: boolean;
  nanoseconds?: boolean;
  /** Kuznetzov's modified format (magic a1b2cd34, 24-byte record headers). */
  modified?: boolean;
  /** The raw link-type field (upper bits may carry FCS information). Default 1 (Ethernet). */
  linkType?: number;
  snapLength?: number;
}

export interface PcapRecordSpec {
  seconds: number;
  /** Microseconds or nanoseconds, as the file's magic says; written as is (may overflow). */
  fraction: number;
  data: Bytes;
  /** Default: data.length. */
  originalLength?: number;
  /** Written into the header instead of data.length (to build broken files). */
  capturedLength?: number;
}

export function buildPcap(options: PcapOptions, records: readonly PcapRecordSpec[]): Uint8Array {
  const writer = new ByteWriter(options.littleEndian ?? true);
  const magic = options.modified ? 0xa1b2cd34 : options.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4;
  writer
    .u32(magic)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(options.snapLength ?? 262144)
    .u32(options.linkType ?? 1);
  for (const record of records) {
    writer
      .u32(record.seconds)
      .u32(record.fraction)
      .u32(record.capturedLength ?? record.data.length)
      .u32(record.originalLength ?? record.data.length);
    if (options.modified) writer.u32(7).u16(0x0800).u8(0).u8(0);
    writer.append(record.data);
  }
  return writer.toBytes();
}

export const PcapngBlock = {
  SectionHeader: 0x0a0d0d0a,
  InterfaceDescription: 1,
  ObsoletePacket: 2,
  SimplePacket: 3,
  NameResolution: 4,
  InterfaceStatistics: 5,
  EnhancedPacket: 6,
  Custom: 0x00000bad,
} as const;

export interface InterfaceSpec {
  linkType?: number;
  snapLength?: number;
  /** if_tsresol option byte; omitted = no option (microseconds). */
  tsresol?: number;
  /** if_tsoffset option, seconds. */
  tsoffset?: bigint;
  /** Adds an if_name option before the others. */
  name?: string;
}

export interface EnhancedPacketSpec {
  interfaceId?: number;
  /** In the interface's units. */
  timestamp: bigint;
  data: Bytes;
  originalLength?: number;
  /** Written instead of data.length. */
  capturedLength?: number;
  /** Extra bytes after the padded packet data (options area). */
  options?: Bytes;
}

/** Writes pcapng blocks in order; `section()` starts a section in its own byte order. */
export class PcapngBuilder {
  readonly #out = new ByteWriter(true);

  section(littleEndian = true): this {
    this.#out.littleEndian = littleEndian;
    const body = this.#writer().u32(0x1a2b3c4d).u16(1).u16(0).u64(-1n);
    return this.block(PcapngBlock.SectionHeader, body.toBytes());
  }

  interface(spec: InterfaceSpec = {}): this {
    const body = this.#writer()
      .u16(spec.linkType ?? 1)
      .u16(0)
      .u32(spec.snapLength ?? 0);
    if (spec.name !== undefined) {
      const name = new TextEncoder().encode(spec.name);
      body.u16(2).u16(name.length).append(name).padTo4();
    }
    if (spec.tsresol !== undefined) body.u16(9).u16(1).u8(spec.tsresol).padTo4();
    if (spec.tsoffset !== undefined) body.u16(14).u16(8).u64(spec.tsoffset);
    if (body.length > 8) body.u16(0).u16(0);
    return this.block(PcapngBlock.InterfaceDescription, body.toBytes());
  }

  enhancedPacket(spec: EnhancedPacketSpec): this {
    const body = this.#writer()
      .u32(spec.interfaceId ?? 0)
      .u64Words(spec.timestamp)
      .u32(spec.capturedLength ?? spec.data.length)
      .u32(spec.originalLength ?? spec.data.length)
      .append(spec.data)
      .padTo4()
      .append(spec.options ?? []);
    return this.block(PcapngBlock.EnhancedPacket, body.toBytes());
  }

  simplePacket(data: Bytes, originalLength = data.length): this {
    return this.block(PcapngBlock.SimplePacket, this.#writer().u32(originalLength).append(data).toBytes());
  }

  obsoletePacket(interfaceId: number, timestamp: bigint, data: Bytes): this {
    const body = this.#writer()
      .u16(interfaceId)
      .u16(0)
      .u64Words(timestamp)
      .u32(data.length)
      .u32(data.length)
      .append(data);
    return this.block(PcapngBlock.ObsoletePacket, body.toBytes());
  }

  /** Any block: type, total length, body padded to 4, total length. */
  block(type: number, body: Bytes): this {
    const padding = (4 - (body.length % 4)) % 4;
    const total = 12 + body.length + padding;
    this.#out.u32(type).u32(total).append(body).append(new Uint8Array(padding)).u32(total);
    return this;
  }

  /** Bytes written as they are (hand-made broken blocks). */
  raw(bytes: Bytes): this {
    this.#out.append(bytes);
    return this;
  }

  /** A 32-bit word in the current section's byte order (for hand-made blocks). */
  word(value: number): this {
    this.#out.u32(value);
    return this;
  }

  build(): Uint8Array {
    return this.#out.toBytes();
  }

  #writer(): ByteWriter {
    return new ByteWriter(this.#out.littleEndian);
  }
}

/** `length` bytes 0, 1, 2, ... (mod 256) offset by `seed`: recognisable packet contents. */
export function packetBytes(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i + seed) & 0xff;
  return bytes;
}
