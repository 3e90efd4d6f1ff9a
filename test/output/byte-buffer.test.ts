/**
 * The byte buffer's writers equal their string references exactly: integers at every digit
 * count, zero-padded nanoseconds, and json() against JSON.stringify for every kind of value a
 * detail object may hold (the fast path takes only printable ASCII and safe integers).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { formatIp } from '../../agent/decode/format.ts';
import { ByteBuffer, fragment } from '../../agent/output/byte-buffer.ts';

const decoder = new TextDecoder();

function render(write: (out: ByteBuffer) => void): string {
  const out = new ByteBuffer(4);
  write(out);
  return decoder.decode(out.view());
}

test('integer() prints every digit count, int32 and beyond, negative too', () => {
  const values = [0, 1, 9, 10, 99, 100, 999, 1000, 65535, 99999, 100000, 123456, 999999, 1_000_000];
  for (let p = 10; p <= 1e15; p *= 10) values.push(p - 1, p, p + 1);
  values.push(0x7fffffff, 0x80000000, 2 ** 32, Number.MAX_SAFE_INTEGER);
  for (const v of values) {
    assert.equal(
      render((out) => out.integer(v)),
      String(v),
    );
    if (v > 0)
      assert.equal(
        render((out) => out.integer(-v)),
        String(-v),
      );
  }
});

test('padded() and raw() of short and long fragments', () => {
  for (const v of [0, 7, 123, 999_999_999])
    assert.equal(
      render((out) => out.padded(v, 9)),
      String(v).padStart(9, '0'),
    );
  const long = 'x'.repeat(100);
  assert.equal(
    render((out) => {
      out.raw(fragment('{"a":'));
      out.raw(fragment(long));
    }),
    `{"a":${long}`,
  );
});

test('json() equals JSON.stringify for every value kind of a detail object', () => {
  const withToJson = { toJSON: () => 'replaced' };
  const hidden = { toJSON: () => undefined };
  const noPrototype = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 'x' });
  const details: unknown[] = [
    { id: 4660, name: 'example.com', type: 'AAAA', class: 'IN', rcode: 'NOERROR', answers: 2 },
    { id: 1, name: null, type: null, class: null, rcode: null, answers: null, retransmissions: 3 },
    {
      method: 'GET',
      path: '/a?b="c"\\d',
      status: 200,
      host: 'h\u00e9llo \u{1f600}',
      user_agent: 'tab\there',
    },
    { control: '\u0000\u001f\u007f', surrogate: '\ud800x', empty: '' },
    { fraction: 1.5, negative: -12, big: 2 ** 60, nan: Number.NaN, inf: Number.POSITIVE_INFINITY, zero: -0 },
    { yes: true, no: false, gone: undefined, fn: () => 1, sym: Symbol('s') },
    { out: { address: '203.0.113.5', port: 40000, transport: 'udp' }, list: [1, 'a', null] },
    { 2: 'two', b: 'b', 1: 'one', a: 'a' },
    { withToJson, hidden, after: 1 },
    { 'key "quoted"': 1, 'k\u00e9y': 2 },
    noPrototype,
    {},
    withToJson,
    [1, 2],
    'text',
    null,
  ];
  for (const detail of details) {
    assert.equal(
      render((out) => out.json(detail)),
      JSON.stringify(detail),
      JSON.stringify(detail),
    );
  }
});

test('large buffers (uninitialised storage) show only what was written, keep it when growing, and own their whole ArrayBuffer', () => {
  for (const capacity of [1 << 16, 1 << 19]) {
    const out = new ByteBuffer(capacity);
    assert.equal(out.view().length, 0);
    assert.equal(out.bytes.buffer.byteLength, capacity, 'transferable as is: no shared pool');
    assert.equal(out.bytes.byteOffset, 0);
    const line = fragment('{"a":1}\n');
    let expected = '';
    while (out.length < capacity + 1000) {
      out.raw(line);
      out.integer(out.length);
      expected += `{"a":1}\n${expected.length + 8}`;
    }
    assert.ok(out.bytes.length > capacity, 'grew');
    assert.equal(out.bytes.buffer.byteLength, out.bytes.length);
    assert.equal(decoder.decode(out.view()), expected);
  }
});

test('ipv6() writes what formatIp() prints: tshark fixture addresses and random zero-group patterns', () => {
  const fixture = path.resolve(import.meta.dirname, '../fixtures/decode/tshark-ipv6-text.tsv');
  const addresses: number[][] = [];
  for (const line of readFileSync(fixture, 'utf8').trimEnd().split('\n').slice(1)) {
    const hex = line.split('\t')[0]!;
    addresses.push([0, 4, 8, 12].map((at) => Number.parseInt(hex.slice(at * 2, at * 2 + 8), 16)));
  }
  // Every pattern of zero and non-zero groups (the "::" and IPv4-tail rules), with random values.
  let seed = 12345;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 16;
  };
  for (let mask = 0; mask < 256; mask++) {
    const groups = Array.from({ length: 8 }, (_, i) =>
      (mask >> i) & 1 ? [1, 0xffff, 0x10, 0x100][random() & 3]! : 0,
    );
    if (mask === 0x20) groups[5] = 0xffff;
    addresses.push([0, 2, 4, 6].map((i) => (groups[i]! * 0x10000 + groups[i + 1]!) >>> 0));
  }
  assert.ok(addresses.length > 400);
  for (const [w0 = 0, w1 = 0, w2 = 0, w3 = 0] of addresses) {
    assert.equal(
      render((out) => out.ipv6(w0, w1, w2, w3)),
      formatIp(6, w0, w1, w2, w3),
    );
  }
});
