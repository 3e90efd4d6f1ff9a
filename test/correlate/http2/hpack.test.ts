/** HPACK decoding against RFC 7541 Appendix C, and its bounds on hostile blocks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type HeaderSink,
  HpackDecoder,
  HpackResult,
  kMaxHeaderListBytes,
  kMaxTableBytes,
} from '../../../agent/correlate/http2/hpack.ts';
import { huffmanDecode } from '../../../agent/correlate/http2/huffman.ts';
import { ParserBufferBudget } from '../../../agent/correlate/tcp-stream/parser-buffers.ts';

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

class Collect implements HeaderSink {
  fields: [string | null, string | null][] = [];
  field(name: string | null, value: string | null): void {
    this.fields.push([name, value]);
  }
}

function decode(decoder: HpackDecoder, block: string): [string | null, string | null][] {
  const sink = new Collect();
  const bytes = hex(block);
  assert.equal(decoder.decode(bytes, 0, bytes.length, sink), HpackResult.Ok);
  return sink.fields;
}

const request1: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const request2: [string, string][] = [...request1, ['cache-control', 'no-cache']];
const request3: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];

for (const [section, blocks] of [
  [
    'C.3 requests without Huffman',
    [
      '828684410f7777772e6578616d706c652e636f6d',
      '828684be58086e6f2d6361636865',
      '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565',
    ],
  ],
  [
    'C.4 requests with Huffman',
    [
      '828684418cf1e3c2e5f23a6ba0ab90f4ff',
      '828684be5886a8eb10649cbf',
      '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf',
    ],
  ],
] as const) {
  test(`RFC 7541 ${section}: the three header lists, through the dynamic table`, () => {
    const decoder = new HpackDecoder(new ParserBufferBudget(1 << 20), false);
    assert.deepEqual(decode(decoder, blocks[0]), request1);
    assert.deepEqual(decode(decoder, blocks[1]), request2);
    assert.deepEqual(decode(decoder, blocks[2]), request3);
  });
}

const response1: [string, string][] = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const response2: [string, string][] = [[':status', '307'], ...response1.slice(1)];
const response3: [string, string][] = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];

for (const [section, blocks] of [
  [
    'C.5 responses without Huffman',
    [
      '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d',
      '4803333037c1c0bf',
      '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
    ],
  ],
  [
    'C.6 responses with Huffman',
    [
      '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
      '4883640effc1c0bf',
      '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
    ],
  ],
] as const) {
  test(`RFC 7541 ${section}: a 256-byte table evicts as the RFC shows`, () => {
    const decoder = new HpackDecoder(new ParserBufferBudget(1 << 20), false);
    // The examples assume SETTINGS_HEADER_TABLE_SIZE 256: a size update says so first.
    assert.deepEqual(decode(decoder, '3fe101'), []);
    assert.deepEqual(decode(decoder, blocks[0]), response1);
    assert.deepEqual(decode(decoder, blocks[1]), response2);
    assert.deepEqual(decode(decoder, blocks[2]), response3);
    // C.5.3 / C.6.3: index 62 is now set-cookie, 63 content-encoding, 64 date; 65 was evicted.
    assert.deepEqual(decode(decoder, 'be'), [['set-cookie', response3[5]![1]]]);
    assert.deepEqual(decode(decoder, 'c0'), [['date', 'Mon, 21 Oct 2013 20:13:22 GMT']]);
    const sink = new Collect();
    assert.equal(
      decoder.decode(hex('c1'), 0, 1, sink),
      HpackResult.Malformed,
      'an evicted index is an error',
    );
  });
}

test('Huffman: EOS, padding over 7 bits and padding not all ones are rejected', () => {
  const out = new Uint8Array(64);
  assert.equal(huffmanDecode(hex('ffffffff'), 0, 4, out), -1, 'EOS (30 ones) inside the string');
  assert.equal(huffmanDecode(hex('1fff'), 0, 2, out), -1, "'0' (00000) then 11 bits of padding");
  assert.equal(huffmanDecode(hex('00'), 0, 1, out), -1, "'0' then 000 padding");
  assert.equal(huffmanDecode(hex('07'), 0, 1, out), 1, "'0' then 111 padding");
});

test('a connection caught mid-way: unknown entries are null fields, known ones decode', () => {
  const decoder = new HpackDecoder(new ParserBufferBudget(1 << 20), true);
  // Index 62 was never inserted here: undecodable, counted, no error.
  const sink = new Collect();
  const block = hex('82be');
  assert.equal(decoder.decode(block, 0, block.length, sink), HpackResult.Ok);
  assert.deepEqual(sink.fields, [
    [':method', 'GET'],
    [null, null],
  ]);
  assert.equal(decoder.undecodable, 1);
  // An entry inserted while watching is known.
  assert.deepEqual(decode(decoder, '410f7777772e6578616d706c652e636f6d'), [
    [':authority', 'www.example.com'],
  ]);
  assert.deepEqual(decode(decoder, 'be'), [[':authority', 'www.example.com']]);
});

test('HPACK bomb: a table size update to 2^28 is clamped and counted, the table stays bounded', () => {
  const budget = new ParserBufferBudget(1 << 20);
  const decoder = new HpackDecoder(budget, false);
  // 001 11111 + 2^28 - 31 continuation bytes: the largest size an integer of 4 continuation bytes holds.
  assert.deepEqual(decode(decoder, '3fe1ffff7f'), []);
  assert.equal(decoder.clampedUpdates, 1);
  assert.equal(decoder.partial, true, 'entries beyond the clamp may be referenced: partial from now on');
  // Fill with 100 KiB of entries: at most kMaxTableBytes are kept (and reserved).
  const name = 'x'.repeat(100);
  for (let i = 0; i < 1000; i++) {
    const value = String(i).padStart(100, '0');
    decode(
      decoder,
      `40${'64'}${Buffer.from(name).toString('hex')}${'64'}${Buffer.from(value).toString('hex')}`,
    );
  }
  assert.ok(budget.bytes <= kMaxTableBytes, `${budget.bytes} bytes reserved`);
  // A 5-byte continuation (over 2^28) is malformed, not a huge number.
  const sink = new Collect();
  assert.equal(decoder.decode(hex('3fffffffffff01'), 0, 7, sink), HpackResult.Malformed);
  decoder.release();
  assert.equal(budget.bytes, 0, 'release gives every reserved byte back');
});

test('a header list over the limit stops reporting fields but keeps the table in step', () => {
  const decoder = new HpackDecoder(new ParserBufferBudget(1 << 20), false);
  const sink = new Collect();
  // Literal fields without indexing, new name 'a', a 1,000-byte value (length 127 + 873 as 7f e9 06).
  const field = `000161${'7fe906'}${Buffer.alloc(1000, 0x62).toString('hex')}`;
  const count = Math.ceil(kMaxHeaderListBytes / 1000) + 5;
  const block = hex(`${field.repeat(count)}418cf1e3c2e5f23a6ba0ab90f4ff`);
  assert.equal(decoder.decode(block, 0, block.length, sink), HpackResult.Ok);
  assert.equal(decoder.listTooLarge, true);
  assert.ok(sink.fields.length < count);
  // The indexed field at the end still went into the table.
  assert.deepEqual(decode(decoder, 'be'), [[':authority', 'www.example.com']]);
});

test('out of parser budget: entries become placeholders (null fields) but indices stay in step', () => {
  const budget = new ParserBufferBudget(40);
  const decoder = new HpackDecoder(budget, false);
  decode(decoder, '410f7777772e6578616d706c652e636f6d'); // 47 bytes: refused
  decode(decoder, '4003616263017a'); // abc: z, 36 bytes: fits
  assert.deepEqual(decode(decoder, 'bebf'), [
    ['abc', 'z'],
    [null, null],
  ]);
  assert.equal(budget.bytes, 36);
});
