/**
 * The collector's answer to a trace export (ExportTraceServiceResponse), decoded as
 * otlp-transformer's ProtobufTraceSerializer.deserializeResponse decodes it (0.301.0): the
 * transformer's one entry point also loads every signal's serializers and the SDK's metrics
 * package (~30 ms of the start), for these two fields. test/export/trace-response.test.ts checks
 * it against the SDK's. The export delegate only logs a partial success (rejected spans, message).
 *
 *   ExportTraceServiceResponse { 1: partial_success ExportTracePartialSuccess }
 *   ExportTracePartialSuccess  { 1: rejected_spans int64, 2: error_message string }
 */
import type { IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';

const kVarint = 0;
const kFixed64 = 1;
const kLengthDelimited = 2;
const kFixed32 = 5;

/** A protobuf field walker over `bytes` (what the response needs: tags, varints, bytes, skips). */
class FieldReader {
  readonly #bytes: Uint8Array;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get atEnd(): boolean {
    return this.#at >= this.#bytes.length;
  }

  /** A varint as a number (precision above 2^53 lost, as the SDK's reader). */
  varint(): number {
    let value = 0;
    for (let scale = 1; this.#at < this.#bytes.length; scale *= 128) {
      const byte = this.#bytes[this.#at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
    throw new Error('Truncated buffer: unexpected end of data while reading varint');
  }

  bytes(): Uint8Array {
    const length = this.varint();
    if (this.#at + length > this.#bytes.length) {
      throw new Error(`Truncated buffer: expected ${length} bytes at position ${this.#at}`);
    }
    this.#at += length;
    return this.#bytes.subarray(this.#at - length, this.#at);
  }

  skip(wireType: number): void {
    if (wireType === kVarint) this.varint();
    else if (wireType === kFixed64) this.#at += 8;
    else if (wireType === kLengthDelimited) this.bytes();
    else if (wireType === kFixed32) this.#at += 4;
    else throw new Error(`Unknown wire type ${wireType}, cannot safely skip`);
  }
}

export function deserializeTraceResponse(data: Uint8Array): IExportTraceServiceResponse {
  const response: IExportTraceServiceResponse = {};
  const reader = new FieldReader(data);
  while (!reader.atEnd) {
    const tag = reader.varint();
    if (tag === ((1 << 3) | kLengthDelimited)) response.partialSuccess = partialSuccess(reader.bytes());
    else reader.skip(tag & 7);
  }
  return response;
}

function partialSuccess(data: Uint8Array): NonNullable<IExportTraceServiceResponse['partialSuccess']> {
  const result: NonNullable<IExportTraceServiceResponse['partialSuccess']> = {};
  const reader = new FieldReader(data);
  while (!reader.atEnd) {
    const tag = reader.varint();
    if (tag === ((1 << 3) | kVarint)) result.rejectedSpans = reader.varint();
    else if (tag === ((2 << 3) | kLengthDelimited))
      result.errorMessage = new TextDecoder().decode(reader.bytes());
    else reader.skip(tag & 7);
  }
  return result;
}
