/**
 * The byte buffer's writers equal their string references exactly: integers at every digit
 * count, zero-padded nanoseconds, and json() against JSON.stringify for every kind of value a
 * detail object may hold (the fast path takes only printable ASCII and safe integers).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
