/** trace-response.ts decodes a collector's answer as the SDK's ProtobufTraceSerializer does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { deserializeTraceResponse } from '../../agent/export/otel/trace-response.ts';

/** Both decoders give the same result, or both throw. */
function bothDecode(bytes: Uint8Array): void {
  let sdk: unknown;
  try {
    sdk = ProtobufTraceSerializer.deserializeResponse(bytes);
  } catch (error) {
    assert.throws(() => deserializeTraceResponse(bytes), `${(error as Error).message}: ${bytes.join(',')}`);
    return;
  }
  assert.deepEqual(deserializeTraceResponse(bytes), sdk, bytes.join(','));
}

const varint = (value: number): number[] => {
  const out: number[] = [];
  for (; value >= 128; value = Math.floor(value / 128)) out.push((value % 128) | 128);
  out.push(value);
  return out;
};
const field = (number: number, wireType: number, payload: number[]): number[] => [
  ...varint(number * 8 + wireType),
  ...(wireType === 2 ? varint(payload.length) : []),
  ...payload,
];
const partial = (...fields: number[][]): number[] => field(1, 2, fields.flat());

test('empty, partial successes and unknown fields of every wire type decode as the SDK decodes them', () => {
  const message = [...Buffer.from('2 spans rejected: é')];
  const cases: number[][] = [
    [],
    partial(),
    partial(field(1, 0, varint(2))),
    partial(field(2, 2, message)),
    partial(field(1, 0, varint(2 ** 40 + 3)), field(2, 2, message)),
    // Unknown fields around and inside (varint, fixed64, bytes, fixed32), a known field with another wire type.
    [
      ...field(7, 0, varint(300)),
      ...partial(field(3, 1, [1, 2, 3, 4, 5, 6, 7, 8]), field(1, 0, varint(5)), field(2, 0, [1])),
      ...field(9, 5, [1, 2, 3, 4]),
      ...field(1, 0, [4]),
    ],
    // Two partial successes: the last wins.
    [...partial(field(1, 0, [1])), ...partial(field(1, 0, [9]))],
  ];
  for (const bytes of cases) bothDecode(Uint8Array.from(bytes));
});

test('truncated and malformed bytes fail as the SDK fails, random bytes decode alike', () => {
  for (const bytes of [[0x0a, 5, 0x08], [0x08, 0x80], [0x0b], partial(field(1, 0, [0x80]))])
    bothDecode(Uint8Array.from(bytes));
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed >>> 16;
  };
  for (let i = 0; i < 20_000; i++) {
    const bytes = new Uint8Array(random() % 12);
    for (let b = 0; b < bytes.length; b++)
      bytes[b] = i % 2 === 0 ? random() & 0xff : [0x0a, 0x08, 0x12, 0x80, 1, 2, 3][random() % 7]!;
    bothDecode(bytes);
  }
});
